"""Run the OGC API - Features Core conformance tests of ``ogctests`` against a server.

``ogctests`` (PyPI) pins ``httpx<0.28`` and its own pytest, so it lives in a virtualenv of its
own, ``.run/venv-ogctests``, made here on first use (``pip install ogctests``) and reused. The
suite runs in that interpreter as a subprocess; this script reads its JUnit XML report and
prints one line per abstract test (``ast1`` ... ``ast29``) with the outcome.

    .venv/bin/python bench/ogc_conformance.py http://127.0.0.1:8000/ogc
    .venv/bin/python bench/ogc_conformance.py --json report.json http://127.0.0.1:8000/ogc

Exit status 0 when every test passed; tests that need the internet would be listed in
``NEEDS_INTERNET`` with the reason (none of the Core suite does: it fetches only the server
under test and the JSON schemas shipped in the package).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV = REPO_ROOT / ".run" / "venv-ogctests"
#: abstract tests that reach beyond the server under test, with the reason (none in Core)
NEEDS_INTERNET: dict[str, str] = {}


def ensure_venv(path: Path = VENV) -> Path:
    """The Python of the ogctests virtualenv, created and filled when missing.

    Parameters
    ----------
    path
        Folder of the virtualenv.

    Returns
    -------
    Path
        Its ``bin/python``.
    """
    python = path / "bin" / "python"
    if not python.exists():
        venv.create(path, with_pip=True)
    probe = subprocess.run(
        [str(python), "-c", "import ogctests"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "ogctests"], check=True)
    return python


def run(url: str, scope: str = "features/core", python: Path | None = None) -> dict:
    """Run the suite against ``url`` (the API root, e.g. ``http://host/ogc``).

    Returns
    -------
    dict
        ``{"tests": {name: outcome}, "messages": {name: text}, "returncode": int}`` where the
        outcome is ``passed``, ``failed``, ``error`` or ``skipped``.
    """
    python = python or ensure_venv()
    package = subprocess.run(
        [
            str(python),
            "-c",
            "import ogctests, pathlib; print(pathlib.Path(ogctests.__file__).parent)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="ogctests-") as tmp:
        # an empty ini keeps pytest from taking this repository's pyproject.toml settings
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")
        report = Path(tmp) / "report.xml"
        proc = subprocess.run(
            [
                str(python),
                "-m",
                "pytest",
                str(Path(package) / scope),
                "-c",
                str(ini),
                "--rootdir",
                tmp,
                "-p",
                "no:cacheprovider",
                "-q",
                "-rA",
                f"--junitxml={report}",
            ],
            env={"INSTANCE_URL": url.rstrip("/"), "PATH": "/usr/bin:/bin"},
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        tests: dict[str, str] = {}
        messages: dict[str, str] = {}
        if report.exists():
            for case in ET.parse(report).getroot().iter("testcase"):
                name = case.get("name", "")
                outcome = "passed"
                for kind in ("failure", "error", "skipped"):
                    node = case.find(kind)
                    if node is not None:
                        outcome = "failed" if kind == "failure" else kind
                        messages[name] = (node.get("message") or node.text or "")[:500]
                tests[name] = outcome
    return {
        "tests": tests,
        "messages": messages,
        "returncode": proc.returncode,
        "output": proc.stdout[-4000:] + proc.stderr[-2000:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the API root, e.g. http://127.0.0.1:8000/ogc")
    parser.add_argument("--scope", default="features/core")
    parser.add_argument("--json", type=Path, help="also write the outcomes to this file")
    args = parser.parse_args()
    result = run(args.url, args.scope)
    for name, outcome in sorted(result["tests"].items(), key=lambda kv: int(kv[0][8:] or 0)):
        note = NEEDS_INTERNET.get(name, result["messages"].get(name, ""))
        print(f"{name:10s} {outcome:8s} {note}")
    counts = {k: list(result["tests"].values()).count(k) for k in set(result["tests"].values())}
    print("summary:", counts, "pytest exit", result["returncode"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    failed = [n for n, o in result["tests"].items() if o != "passed" and n not in NEEDS_INTERNET]
    return 0 if result["tests"] and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
