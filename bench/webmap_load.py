"""Page weight and time to first render of the web map (Helsinki), cold and warm cache.

Drives Debian's headless Chromium (Playwright) against a running server:

    .venv/bin/python bench/webmap_load.py [--url http://127.0.0.1:8000] [--runs 5]

Cold: a fresh browser context (empty HTTP cache) per run. Warm: the same context loads the page
a second time (static files are cached for a year by their versioned URL; tiles for 5 minutes).
"Map drawn" is the first ``idle`` event of the map (every tile of the view loaded and drawn);
the page records it as ``document.body.dataset.firstIdle`` (ms since navigation start). Bytes are what
went over the wire (compressed bodies plus response headers, as Chromium reports them to
Playwright, the map worker's tile requests included; 0 for a cache hit). Chromium renders WebGL on the CPU here (SwiftShader), so times are an upper bound of
what a laptop with a GPU sees.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from frontend.headless import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - after the path is set

VIEWPORT = {"width": 1366, "height": 768}

MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    dcl: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd,
    idle: Number(document.body.dataset.firstIdle),
    buildings: window.citytwinMap.queryRenderedFeatures({layers: ['buildings-3d']}).length,
  };
}"""


def kind(url: str) -> str:
    path = urllib.parse.urlsplit(url).path
    for prefix, name in (("/tiles/", "tiles"), ("/static/", "static"), ("/api/", "api")):
        if path.startswith(prefix):
            return name
    return "page"


def helsinki_id(url: str) -> int:
    with urllib.request.urlopen(f"{url}/api/cities/?page_size=200", timeout=30) as r:
        cities = json.load(r)["features"]
    for city in cities:
        if city["properties"]["name"] == "Helsinki":
            return city["id"]
    raise SystemExit("no city named Helsinki on this server (bin/citytwin up imports it)")


def load(page, link: str) -> dict:
    """Load the page once; bytes per kind of request as they went over the wire.

    Playwright reports every request, the map's web worker's tile requests too; a cache hit
    has ``responseBodySize == -responseHeadersSize`` (nothing transferred).
    """
    by: dict[str, dict] = {}

    def finished(request):
        if request.url.startswith(("blob:", "data:")):
            return
        sizes = request.sizes()
        wire = max(0, sizes["responseBodySize"] + sizes["responseHeadersSize"])
        slot = by.setdefault(kind(request.url), {"requests": 0, "transfer": 0, "cached": 0})
        slot["requests"] += 1
        slot["transfer"] += wire
        slot["cached"] += wire == 0

    page.on("requestfinished", finished)
    page.goto(link, wait_until="load")
    page.wait_for_function("document.body.dataset.firstIdle !== undefined", timeout=120_000)
    page.wait_for_timeout(300)  # let the last requests finish
    result = page.evaluate(MEASURE)
    page.remove_listener("requestfinished", finished)
    result["by"] = by
    if result["buildings"] == 0:
        raise SystemExit("the map drew no buildings: is the server's city imported?")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    url = args.url.rstrip("/")
    try:
        with urllib.request.urlopen(url + "/", timeout=30) as r:
            if b"frontend/build/app.js" not in r.read():
                raise SystemExit(f"{url}/ is not the web map")
    except urllib.error.HTTPError as exc:
        raise SystemExit(
            f"{url}/ answered {exc.code}: is the server running the current code?"
        ) from None
    link = f"{url}/#city={helsinki_id(url)}"

    from playwright.sync_api import sync_playwright

    cold, warm = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(args.runs):
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            cold.append(load(page, link))
            page.close()
            page = context.new_page()  # same context: same HTTP cache
            warm.append(load(page, link))
            context.close()
        browser.close()

    def med(results, key):
        return statistics.median(r[key] for r in results)

    def med_kind(results, kind, field):
        return statistics.median(r["by"].get(kind, {}).get(field, 0) for r in results)

    print(f"web map load, Helsinki, {url}, {args.runs} runs each, median; viewport 1366x768")
    print()
    print("| | cold cache | warm cache |")
    print("|---|---:|---:|")
    for label, key in (
        ("DOMContentLoaded (ms)", "dcl"),
        ("load event (ms)", "load"),
        ("map drawn: first idle (ms)", "idle"),
    ):
        print(f"| {label} | {med(cold, key):.0f} | {med(warm, key):.0f} |")
    total = {
        name: statistics.median(sum(k["transfer"] for k in r["by"].values()) for r in rs)
        for name, rs in (("cold", cold), ("warm", warm))
    }
    print(
        f"| bytes over the wire, all | {total['cold'] / 1024:.0f} KiB | {total['warm'] / 1024:.0f} KiB |"
    )
    for name in ("page", "static", "api", "tiles"):
        c_req, w_req = med_kind(cold, name, "requests"), med_kind(warm, name, "requests")
        c_b, w_b = med_kind(cold, name, "transfer"), med_kind(warm, name, "transfer")
        w_hit = med_kind(warm, name, "cached")
        print(
            f"| {name}: requests, bytes | {c_req:.0f}, {c_b / 1024:.1f} KiB | "
            f"{w_req:.0f} ({w_hit:.0f} from cache), {w_b / 1024:.1f} KiB |"
        )
    print(f"| buildings drawn | {med(cold, 'buildings'):.0f} | {med(warm, 'buildings'):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
