"""Use of buildings whose OSM tags do not say it (``building=yes``): evidence, vote, confidence.

Most buildings in real extracts are tagged only ``building=yes`` (51-99.7 %); without a use
they would house nobody. Each untagged building gets a use from a weighted vote of the
evidence around it, all measured in the city's local metric CRS (metres):

=============  ======  ======================================================================
evidence       weight  rule
=============  ======  ======================================================================
``poi``        3.0     POIs (shop, office, amenity, craft, tourism) inside the footprint or
                       within ``POI_DISTANCE_M`` of it, shared by their use class
``landuse``    2.0     the smallest ``landuse=*`` polygon holding the footprint's
                       representative point (residential, retail, industrial, ...)
``neighbours`` 2.0     use shares of the ``NEIGHBOURS`` nearest buildings with a tagged use
                       within ``NEIGHBOUR_RADIUS_M`` (weights 1 / (d + 20 m))
``size``       <= 3.0  footprint: under 30 m2 a shed or garage (no one lives or works
                       there), over 1,000 m2 a shop, hotel or hall (commercial 0.6,
                       industrial 0.4), over 3,000 m2 industrial 1.0
``default``    0.5     residential (most buildings of a city are housing), 0.1 other
=============  ======  ======================================================================

The use with the largest score wins; ``use_source`` names the evidence that gave it the most,
and ``use_confidence`` is its share of all the scores (0-1). Buildings whose own tags give the
use keep it with source ``osm_tag`` and confidence 1.

:func:`holdout_accuracy` checks the vote against buildings whose use *is* tagged: their tags
are hidden fold by fold (the other folds stay as neighbours) and the predicted use is compared
with the tagged one.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

from .building_rules import building_use

USES = ("residential", "commercial", "industrial", "public", "other")
_INDEX = {u: i for i, u in enumerate(USES)}

#: building=* values that say "no one lives or works here" (a use by tag: other)
NO_OCCUPANT_TYPES = {
    "roof", "carport", "construction", "ruins", "bridge", "greenhouse", "tank", "silo",
    "storage_tank", "toilets", "collapsed", "abandoned", "transformer_tower", "water_tower",
    "tower", "pavilion", "grandstand", "container", "boathouse", "stable", "cowshed", "barn",
    "farm_auxiliary", "sty", "gatehouse", "bunker", "digester", "utility", "ship",
}  # fmt: skip
#: landuse=* -> use (landuse values not listed give no evidence)
LANDUSE_USE = {
    "residential": "residential",
    "commercial": "commercial",
    "retail": "commercial",
    "industrial": "industrial",
    "port": "industrial",
    "railway": "industrial",
    "quarry": "industrial",
    "depot": "industrial",
    "education": "public",
    "institutional": "public",
    "religious": "public",
    "military": "public",
    "civic": "public",
    "civil": "public",
    "cemetery": "public",
    "hospital": "public",
    "garages": "other",
    "allotments": "other",
    "farmland": "other",
    "orchard": "other",
    "vineyard": "other",
    "meadow": "other",
    "forest": "other",
    "greenhouse_horticulture": "other",
    "construction": "other",
}
#: POI tags that say commercial beyond those building_rules knows (tourism=hotel, pharmacy...)
_COMMERCIAL_TOURISM = {"hotel", "hostel", "guest_house", "motel", "apartment"}
_COMMERCIAL_EXTRA_AMENITIES = {"pharmacy", "ice_cream", "car_rental", "fuel", "marketplace"}

W_POI, W_LANDUSE, W_NEIGHBOURS = 3.0, 2.0, 2.0
W_DEFAULT_RESIDENTIAL, W_DEFAULT_OTHER = 0.5, 0.1
POI_DISTANCE_M = 3.0
NEIGHBOURS = 10
NEIGHBOUR_RADIUS_M = 150.0
SMALL_FOOTPRINT_M2, TINY_FOOTPRINT_M2 = 60.0, 30.0
LARGE_FOOTPRINT_M2, HALL_FOOTPRINT_M2 = 1000.0, 3000.0
EVIDENCE = ("poi", "landuse", "neighbours", "size", "default")


def tagged_use(building_type: str, tags: dict) -> str | None:
    """Use given by the building's own tags, or None when they do not say it."""
    btype = (building_type or "").strip().lower()
    if btype in NO_OCCUPANT_TYPES:
        return "other"
    use = building_use(btype, tags)
    return None if use == "other" else use


def poi_use(tags: dict) -> str | None:
    """Use class a POI points to (None for POIs that say nothing: benches, parking, ...)."""
    tourism = str(tags.get("tourism") or "").lower()
    amenity = str(tags.get("amenity") or "").lower()
    if tourism in _COMMERCIAL_TOURISM or amenity in _COMMERCIAL_EXTRA_AMENITIES:
        return "commercial"
    use = building_use("", tags)
    return None if use == "other" else use


def _poi_scores(footprints: np.ndarray, points: np.ndarray, uses: np.ndarray) -> np.ndarray:
    """(n_buildings, n_uses) share of the POIs on each building by their use."""
    counts = np.zeros((len(footprints), len(USES)))
    if len(points) and len(footprints):
        tree = shapely.STRtree(footprints)
        pt, bld = tree.query(points, predicate="dwithin", distance=POI_DISTANCE_M)
        np.add.at(counts, (bld, np.array([_INDEX[u] for u in uses[pt]], dtype=int)), 1.0)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def _landuse_scores(points: np.ndarray, polygons: np.ndarray, uses: np.ndarray) -> np.ndarray:
    """One-hot use of the smallest landuse polygon holding each point."""
    scores = np.zeros((len(points), len(USES)))
    if len(polygons) and len(points):
        tree = shapely.STRtree(polygons)
        pt, poly = tree.query(points, predicate="within")
        area = shapely.area(polygons)[poly]
        order = np.lexsort((area, pt))  # per point, smallest polygon first
        pt, poly = pt[order], poly[order]
        first = np.r_[True, pt[1:] != pt[:-1]]
        scores[pt[first], [_INDEX[u] for u in uses[poly[first]]]] = 1.0
    return scores


def _neighbour_scores(
    xy: np.ndarray, known: np.ndarray, known_use: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted use shares of nearby tagged buildings, and how many were found (0..k)."""
    n = len(xy)
    scores = np.zeros((n, len(USES)))
    found = np.zeros(n)
    idx_known = np.flatnonzero(known)
    if len(idx_known) == 0:
        return scores, found
    k = min(NEIGHBOURS + 1, len(idx_known))
    dist, nb = cKDTree(xy[idx_known]).query(
        xy, k=k, distance_upper_bound=NEIGHBOUR_RADIUS_M
    )  # fmt: skip
    dist, nb = dist.reshape(n, k), nb.reshape(n, k)
    valid = np.isfinite(dist)
    ids = np.where(valid, idx_known[np.minimum(nb, len(idx_known) - 1)], -1)
    valid &= ids != np.arange(n)[:, None]  # a tagged building is not its own neighbour
    weight = np.where(valid, 1.0 / (dist + 20.0), 0.0)
    cls = np.array([_INDEX[u] for u in known_use], dtype=int)
    # known_use is indexed like xy (entries of unknown buildings are never read)
    cls_of = np.where(valid, cls[np.maximum(ids, 0)], 0)
    for c in range(len(USES)):
        scores[:, c] = (weight * (cls_of == c)).sum(axis=1)
    total = scores.sum(axis=1, keepdims=True)
    scores = np.divide(scores, total, out=np.zeros_like(scores), where=total > 0)
    found = valid.sum(axis=1).astype(float)
    return scores, found


def _size_scores(area_m2: np.ndarray) -> np.ndarray:
    scores = np.zeros((len(area_m2), len(USES)))
    scores[:, _INDEX["other"]] = np.where(
        area_m2 < TINY_FOOTPRINT_M2, 3.0, np.where(area_m2 < SMALL_FOOTPRINT_M2, 1.0, 0.0)
    )
    large = area_m2 > LARGE_FOOTPRINT_M2
    hall = area_m2 > HALL_FOOTPRINT_M2
    scores[large, _INDEX["commercial"]] = 0.6
    scores[large, _INDEX["industrial"]] = 0.4
    scores[hall, _INDEX["industrial"]] = 1.0
    return scores


def infer_uses(
    footprints: np.ndarray,
    known_use: np.ndarray,
    landuse_polygons: np.ndarray | None = None,
    landuse_uses: np.ndarray | None = None,
    poi_points: np.ndarray | None = None,
    poi_uses: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Use, source and confidence of every building (tagged ones keep their tagged use).

    Parameters
    ----------
    footprints : shapely polygons in a local metric CRS (m).
    known_use : use from the building's own tags, or None where they do not say it.
    landuse_polygons, landuse_uses : landuse polygons (same CRS) and their use (see
        ``LANDUSE_USE``).
    poi_points, poi_uses : POI geometries (same CRS) and their use (see :func:`poi_use`).

    Returns
    -------
    use, use_source ("osm_tag", or one of ``EVIDENCE``), use_confidence (0-1) arrays.
    """
    n = len(footprints)
    known_use = np.asarray(known_use, dtype=object)
    known = np.array([u is not None for u in known_use], dtype=bool)
    use = np.where(known, known_use, "other").astype(object)
    source = np.where(known, "osm_tag", "default").astype(object)
    confidence = np.where(known, 1.0, 0.0)
    todo = np.flatnonzero(~known)
    if n == 0 or len(todo) == 0:
        return use, source, confidence
    rep = shapely.point_on_surface(footprints)
    xy = np.column_stack([shapely.get_x(rep), shapely.get_y(rep)])
    area = shapely.area(footprints)
    parts = np.zeros((len(EVIDENCE), len(todo), len(USES)))
    if poi_points is not None and len(poi_points):
        parts[0] = W_POI * _poi_scores(footprints[todo], poi_points, np.asarray(poi_uses))
    if landuse_polygons is not None and len(landuse_polygons):
        parts[1] = W_LANDUSE * _landuse_scores(
            rep[todo], landuse_polygons, np.asarray(landuse_uses)
        )  # fmt: skip
    nb, found = _neighbour_scores(xy, known, np.where(known, known_use, "other"))
    parts[2] = W_NEIGHBOURS * np.minimum(found[todo] / 3.0, 1.0)[:, None] * nb[todo]
    parts[3] = _size_scores(area[todo])
    parts[4][:, _INDEX["residential"]] = W_DEFAULT_RESIDENTIAL
    parts[4][:, _INDEX["other"]] = W_DEFAULT_OTHER
    scores = parts.sum(axis=0)
    win = scores.argmax(axis=1)
    rows = np.arange(len(todo))
    use[todo] = np.array(USES, dtype=object)[win]
    source[todo] = np.array(EVIDENCE, dtype=object)[parts[:, rows, win].argmax(axis=0)]
    confidence[todo] = scores[rows, win] / scores.sum(axis=1)
    return use, source, confidence


def holdout_accuracy(
    footprints: np.ndarray,
    known_use: np.ndarray,
    landuse_polygons: np.ndarray | None = None,
    landuse_uses: np.ndarray | None = None,
    poi_points: np.ndarray | None = None,
    poi_uses: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
) -> dict:
    """Hide the tagged uses fold by fold, predict them, and compare.

    Only buildings with a use that houses someone (residential, commercial, industrial,
    public) are scored: ``other`` by tag means sheds, roofs and ruins, which size alone gives.

    Returns
    -------
    dict: ``n`` scored, ``accuracy`` (0-1), ``majority_baseline`` (accuracy of always
    predicting the most common tagged use), ``by_source`` {source: [n, accuracy]} and
    ``confusion`` {tagged use: {predicted use: count}}.
    """
    known_use = np.asarray(known_use, dtype=object)
    scored = np.flatnonzero([u is not None and u != "other" for u in known_use])
    rng = np.random.default_rng(seed)
    fold_of = rng.integers(0, folds, len(scored))
    predicted = np.empty(len(scored), dtype=object)
    sources = np.empty(len(scored), dtype=object)
    for f in range(folds):
        hide = scored[fold_of == f]
        if len(hide) == 0:
            continue
        masked = known_use.copy()
        masked[hide] = None
        use, source, _ = infer_uses(
            footprints, masked, landuse_polygons, landuse_uses, poi_points, poi_uses
        )
        predicted[fold_of == f] = use[hide]
        sources[fold_of == f] = source[hide]
    truth = known_use[scored]
    hit = predicted == truth
    values, counts = np.unique(truth.astype(str), return_counts=True) if len(truth) else ([], [])
    by_source = {
        str(s): [int((sources == s).sum()), float(hit[sources == s].mean())]
        for s in np.unique(sources.astype(str))
    }
    confusion: dict[str, dict[str, int]] = {}
    for t, p in zip(truth, predicted, strict=True):
        confusion.setdefault(str(t), {}).setdefault(str(p), 0)
        confusion[str(t)][str(p)] += 1
    return {
        "n": int(len(scored)),
        "accuracy": float(hit.mean()) if len(scored) else float("nan"),
        "majority_baseline": float(max(counts) / len(truth)) if len(truth) else float("nan"),
        "majority_use": str(values[int(np.argmax(counts))]) if len(truth) else None,
        "by_source": by_source,
        "confusion": confusion,
    }


__all__ = [
    "USES",
    "LANDUSE_USE",
    "NO_OCCUPANT_TYPES",
    "tagged_use",
    "poi_use",
    "infer_uses",
    "holdout_accuracy",
]
