"""Compare two pytest runs' durations, test by test (issue 12: the suite's time budget).

Run the suite twice with ``--durations=0`` (e.g. an old commit and the new one, each in a fresh
clone: ``bin/citytwin test -q --durations=0 > run.log``), then::

    .venv/bin/python bench/suite_durations.py old.log new.log

It sums setup + call + teardown per test id and prints the time of the tests present in both
runs (the ones a refactor must not slow down), the whole suites, and the files that changed most.
"""

from __future__ import annotations

import argparse
import collections
import re

LINE = re.compile(r"^\s*([\d.]+)s (call|setup|teardown)\s+(\S+)")


def durations_s(path: str) -> dict[str, float]:
    """Seconds per test id (setup + call + teardown) from pytest's ``--durations=0`` report."""
    out: dict[str, float] = collections.defaultdict(float)
    with open(path) as log:
        for line in log:
            match = LINE.match(line)
            if match:
                out[match.group(3)] += float(match.group(1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_log")
    parser.add_argument("new_log")
    args = parser.parse_args()
    old, new = durations_s(args.old_log), durations_s(args.new_log)
    common = set(old) & set(new)
    old_s, new_s = sum(old[t] for t in common), sum(new[t] for t in common)
    print(f"tests: old {len(old)}, new {len(new)}, in both {len(common)}")
    print(f"tests in both: old {old_s:.0f} s, new {new_s:.0f} s, ratio {new_s / old_s:.2f}")
    print(f"whole suites: old {sum(old.values()):.0f} s, new {sum(new.values()):.0f} s")
    by_file: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    for test in common:
        pair = by_file[test.split("::")[0]]
        pair[0] += old[test]
        pair[1] += new[test]
    for name, (a, b) in sorted(by_file.items(), key=lambda kv: kv[1][0] - kv[1][1])[:8]:
        print(f"  {name}: {a:.0f} s -> {b:.0f} s")


if __name__ == "__main__":
    main()
