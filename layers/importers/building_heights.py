"""Heights of buildings whose OSM tags give none: from a height raster, else a documented model.

Raster (``raster``)
-------------------
:func:`zonal_heights` takes a robust statistic of an nDSM (heights above ground, m) over each
footprint: by default the 90th percentile of the cells whose centre falls inside the footprint
(a median is pulled down by lower roof parts and courtyards, the maximum by chimneys and
noise). A DSM (elevation of the surface) is turned into heights by subtracting the ground:
the 10th percentile of the cells in a ring 2-10 m around the footprint.

Estimate (``estimate``)
-----------------------
:func:`estimate_heights`, for buildings without a height tag, levels tag or raster value:

1. **Prior** by building type (``TYPE_DEFAULT_HEIGHT_M`` of building_rules for a typed
   building) else by use and footprint size (``PRIOR_BY_USE_M``: a 100 m2 residential
   building is a house of two storeys, a 1,000 m2 one a block of five).
2. **City factor**: the median of ``known / prior`` over the buildings whose height is known
   (tags or raster), when at least ``MIN_KNOWN_FOR_CITY`` are; a city of towers gets taller
   priors than a city of houses. Clipped to 0.5-3.
3. **Local factor**: the inverse-distance weighted mean of ``log(known / prior)`` of the
   ``NEIGHBOURS`` nearest known buildings within ``NEIGHBOUR_RADIUS_M``; it is blended with the
   city factor by ``w = n / (n + 3)`` (n = known neighbours found), so a house next to towers
   stays smaller than them but grows with its street.

``height = prior x exp(w log(local) + (1 - w) log(city))``, clipped to 3-300 m.
:func:`holdout_error` validates it by hiding known heights fold by fold.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

from .building_rules import DEFAULT_HEIGHT_M, TYPE_DEFAULT_HEIGHT_M

#: (footprint upper bound m2, height m) per use: the prior of an untyped building
PRIOR_BY_USE_M: dict[str, list[tuple[float, float]]] = {
    "residential": [(60, 4.0), (150, 7.0), (400, 10.0), (1000, 16.0), (np.inf, 19.0)],
    "commercial": [(150, 5.0), (1000, 12.0), (np.inf, 15.0)],
    "industrial": [(150, 4.0), (np.inf, 9.0)],
    "public": [(300, 8.0), (np.inf, 15.0)],
    "other": [(30, 3.0), (60, 4.0), (np.inf, 6.0)],
}
MIN_KNOWN_FOR_CITY = 20
NEIGHBOURS = 8
NEIGHBOUR_RADIUS_M = 250.0
MIN_ESTIMATE_M, MAX_ESTIMATE_M = 3.0, 300.0
#: building=* values whose table default is a real type (not the untyped 9 m fallback)
_GENERIC_TYPES = {"yes", "block", "building", ""}


def prior_heights(building_type: np.ndarray, use: np.ndarray, area_m2: np.ndarray) -> np.ndarray:
    """Prior height (m) of each building from its type, else its use and footprint (m2)."""
    out = np.empty(len(area_m2))
    for i, (btype, u, a) in enumerate(zip(building_type, use, area_m2, strict=True)):
        btype = str(btype or "").lower()
        if btype not in _GENERIC_TYPES and btype in TYPE_DEFAULT_HEIGHT_M:
            out[i] = TYPE_DEFAULT_HEIGHT_M[btype]
            continue
        table = PRIOR_BY_USE_M.get(str(u), PRIOR_BY_USE_M["other"])
        out[i] = next(h for bound, h in table if a < bound)
    return out


def estimate_heights(
    xy: np.ndarray, prior_m: np.ndarray, known_m: np.ndarray
) -> tuple[np.ndarray, dict]:
    """Estimated height (m) of every building (see the module docstring).

    Parameters
    ----------
    xy : (n, 2) representative points in a local metric CRS (m).
    prior_m : prior heights (:func:`prior_heights`).
    known_m : known heights (m), NaN where unknown.

    Returns
    -------
    heights (m; known ones returned as they are) and ``{"city_factor", "known"}``.
    """
    known = np.isfinite(known_m)
    log_ratio = np.log(np.where(known, known_m, 1.0) / prior_m)
    city = 1.0
    if known.sum() >= MIN_KNOWN_FOR_CITY:
        city = float(np.clip(np.exp(np.median(log_ratio[known])), 0.5, 3.0))
    log_city = np.log(city)
    out = np.where(known, known_m, prior_m * city)
    todo = np.flatnonzero(~known)
    idx_known = np.flatnonzero(known)
    if len(todo) and len(idx_known):
        k = min(NEIGHBOURS, len(idx_known))
        dist, nb = cKDTree(xy[idx_known]).query(
            xy[todo], k=k, distance_upper_bound=NEIGHBOUR_RADIUS_M
        )  # fmt: skip
        dist, nb = dist.reshape(len(todo), k), nb.reshape(len(todo), k)
        valid = np.isfinite(dist)
        weight = np.where(valid, 1.0 / (dist + 25.0), 0.0)
        ratios = np.where(valid, log_ratio[idx_known[np.minimum(nb, len(idx_known) - 1)]], 0.0)
        wsum = weight.sum(axis=1)
        local = np.divide((weight * ratios).sum(axis=1), wsum, out=np.zeros(len(todo)),
                          where=wsum > 0)  # fmt: skip
        n = valid.sum(axis=1)
        w = n / (n + 3.0)
        out[todo] = prior_m[todo] * np.exp(w * local + (1 - w) * log_city)
    out[~known] = np.clip(out[~known], MIN_ESTIMATE_M, MAX_ESTIMATE_M)
    return out, {"city_factor": city, "known": int(known.sum())}


def holdout_error(
    xy: np.ndarray,
    building_type: np.ndarray,
    use: np.ndarray,
    area_m2: np.ndarray,
    known_m: np.ndarray,
    folds: int = 5,
    seed: int = 0,
) -> dict:
    """Hide the known heights fold by fold, estimate them, and report the errors (m).

    Returns
    -------
    dict: ``n``, ``median_abs_error_m``, ``mean_abs_error_m``, ``median_abs_error_old_rule_m``
    (the fixed default per type, 9 m when untyped, that the importer used before) and
    ``median_known_m``.
    """
    known_idx = np.flatnonzero(np.isfinite(known_m))
    rng = np.random.default_rng(seed)
    fold_of = rng.integers(0, folds, len(known_idx))
    prior = prior_heights(building_type, use, area_m2)
    predicted = np.empty(len(known_idx))
    for f in range(folds):
        hide = known_idx[fold_of == f]
        masked = known_m.copy()
        masked[hide] = np.nan
        est, _ = estimate_heights(xy, prior, masked)
        predicted[fold_of == f] = est[hide]
    truth = known_m[known_idx]
    old = np.array(
        [TYPE_DEFAULT_HEIGHT_M.get(str(t).lower(), DEFAULT_HEIGHT_M) for t in building_type]
    )[known_idx]
    err = np.abs(predicted - truth)
    return {
        "n": int(len(known_idx)),
        "median_abs_error_m": float(np.median(err)) if len(err) else float("nan"),
        "mean_abs_error_m": float(np.mean(err)) if len(err) else float("nan"),
        "median_abs_error_old_rule_m": float(np.median(np.abs(old - truth)))
        if len(err)
        else float("nan"),
        "median_known_m": float(np.median(truth)) if len(err) else float("nan"),
    }


def zonal_heights(
    footprints: np.ndarray,
    path: str,
    statistic: str = "p90",
    kind: str = "ndsm",
) -> np.ndarray:
    """Height (m) per footprint from a height raster; NaN where it has no valid cell.

    Parameters
    ----------
    footprints : shapely polygons in the raster's CRS.
    path : GeoTIFF path (band 1; its nodata is honoured).
    statistic : ``"median"``, ``"max"`` or ``"pNN"`` (percentile NN, e.g. ``"p90"``).
    kind : ``"ndsm"`` (heights above ground) or ``"dsm"`` (surface elevation; the ground is the
        10th percentile of a 2-10 m ring around the footprint).
    """
    import rasterio
    from rasterio import features

    if statistic == "median":
        q = 50.0
    elif statistic == "max":
        q = 100.0
    elif statistic.startswith("p") and statistic[1:].isdigit() and 0 <= int(statistic[1:]) <= 100:
        q = float(statistic[1:])
    else:
        raise ValueError(f"statistic must be median, max or pNN, got {statistic!r}")
    if kind not in ("ndsm", "dsm"):
        raise ValueError(f"kind must be ndsm or dsm, got {kind!r}")
    n = len(footprints)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    with rasterio.open(path) as src:
        data = src.read(1, masked=True).astype("float64")
        transform, shape = src.transform, (src.height, src.width)
    valid = ~np.ma.getmaskarray(data) & np.isfinite(data.filled(np.nan))
    values = data.filled(np.nan)

    def per_label(geoms: list) -> tuple[np.ndarray, np.ndarray]:
        # label raster: 1 + footprint index, 0 background; later footprints win on overlaps
        labels = features.rasterize(
            [(g, i + 1) for i, g in enumerate(geoms) if g is not None and not g.is_empty],
            out_shape=shape, transform=transform, fill=0, dtype="int32",
        )  # fmt: skip
        sel = (labels > 0) & valid
        return labels[sel] - 1, values[sel]

    def percentile(lab: np.ndarray, val: np.ndarray, pct: float) -> np.ndarray:
        res = np.full(n, np.nan)
        if len(lab) == 0:
            return res
        order = np.lexsort((val, lab))
        lab, val = lab[order], val[order]
        starts = np.r_[0, np.flatnonzero(np.diff(lab)) + 1]
        ends = np.r_[starts[1:], len(lab)]
        for s, e in zip(starts, ends, strict=True):
            res[lab[s]] = np.percentile(val[s:e], pct)
        return res

    lab, val = per_label(list(footprints))
    out = percentile(lab, val, q)
    if kind == "dsm":
        rings = shapely.difference(
            shapely.buffer(footprints, 10.0), shapely.buffer(footprints, 2.0)
        )
        ground = percentile(*per_label(list(rings)), 10.0)
        out = out - ground
    return out
