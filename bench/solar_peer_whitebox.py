"""Peer runner (executed in bench/.venv-solar): whitebox-workflows on a DSM GeoTIFF.

Usage: python solar_peer_whitebox.py TOOL DSM.tif OUT.tif JSON_PARAMS
Prints one JSON line: {"tool", "seconds", "ok", "error"}.
"""

import json
import sys
import time

tool, dsm_path, out_path, params = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
result = {"tool": tool, "ok": False}
try:
    import whitebox_workflows as wbw

    wbe = wbw.WbEnvironment()
    wbe.verbose = False
    dem = wbe.read_raster(dsm_path)
    t0 = time.perf_counter()
    out = getattr(wbe, tool)(dem, **params)
    result["seconds"] = time.perf_counter() - t0
    wbe.write_raster(out, out_path)
    result["ok"] = True
except Exception as exc:  # report the peer's failure (licence, network, ...) verbatim
    result["error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(result))
