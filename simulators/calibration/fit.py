"""Goodness of fit of modelled link volumes to counts: the GEH statistic and a fit report.

GEH (Geoffrey E. Havers, 1970s; UK DMRB vol. 12 sec. 2 part 1, *Traffic Appraisal in Urban
Areas*, table 4.2) compares an hourly modelled flow M with a count C (both veh/h)::

    GEH = sqrt(2 (M - C)^2 / (M + C))

It is a Chi-squared-like statistic that is tolerant of large relative errors on small flows
and strict on large ones. The common acceptance rule (DMRB; Transport for London *Traffic
Modelling Guidelines* v3, 2010; FHWA *Traffic Analysis Toolbox* vol. III) is GEH < 5 on at
least 85 % of the counted links of an hourly model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["geh", "FitReport", "fit_report", "GEH_LIMIT", "GEH_SHARE_TARGET"]

#: the acceptance threshold of one link (DMRB)
GEH_LIMIT = 5.0
#: share of counted links that must be under :data:`GEH_LIMIT`
GEH_SHARE_TARGET = 0.85


def geh(modelled: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """GEH statistic per link.

    Parameters
    ----------
    modelled, observed : hourly flows, veh/h (same shape, non-negative).

    Returns
    -------
    GEH per link (dimensionless); 0 where both flows are 0.
    """
    m = np.asarray(modelled, dtype=float)
    c = np.asarray(observed, dtype=float)
    total = m + c
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, np.sqrt(2.0 * (m - c) ** 2 / np.where(total > 0, total, 1)), 0)


@dataclass(frozen=True)
class FitReport:
    """How well modelled hourly link volumes match counts.

    Attributes
    ----------
    n_links : counted links compared.
    share_geh_below_5 : share of them with GEH < 5 (0..1; the target is 0.85).
    mean_geh : mean GEH.
    rmse_veh_h : root-mean-square error, veh/h.
    percent_rmse : RMSE / mean count x 100 (%RMSE, FHWA toolbox vol. III).
    r_squared : coefficient of determination of modelled on observed (1 - SSE/SST).
    observed_veh_h, modelled_veh_h, geh : per counted link, in the order given.
    links : the counted link identifiers, in the same order.
    """

    n_links: int
    share_geh_below_5: float
    mean_geh: float
    rmse_veh_h: float
    percent_rmse: float
    r_squared: float
    observed_veh_h: np.ndarray = field(repr=False)
    modelled_veh_h: np.ndarray = field(repr=False)
    geh: np.ndarray = field(repr=False)
    links: np.ndarray = field(repr=False)

    @property
    def passes(self) -> bool:
        """True when GEH < 5 on at least 85 % of the counted links."""
        return self.share_geh_below_5 >= GEH_SHARE_TARGET

    def summary(self) -> dict[str, float | int | bool]:
        """Plain JSON-friendly figures (no per-link arrays)."""
        return {
            "n_links": self.n_links,
            "share_geh_below_5": self.share_geh_below_5,
            "mean_geh": self.mean_geh,
            "rmse_veh_h": self.rmse_veh_h,
            "percent_rmse": self.percent_rmse,
            "r_squared": self.r_squared,
            "passes": self.passes,
        }

    def pairs(self) -> list[dict]:
        """Observed vs modelled per counted link (for a scatter plot), veh/h."""
        return [
            {"link": _plain(k), "observed_veh_h": float(o), "modelled_veh_h": float(m),
             "geh": float(g)}
            for k, o, m, g in zip(self.links, self.observed_veh_h, self.modelled_veh_h, self.geh,
                                  strict=True)
        ]  # fmt: skip


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def fit_report(observed: np.ndarray, modelled: np.ndarray, links=None) -> FitReport:
    """Fit of ``modelled`` to ``observed`` hourly volumes (veh/h) on the counted links.

    Parameters
    ----------
    observed, modelled : per counted link, veh/h.
    links : identifiers of the counted links (default ``0..n-1``).
    """
    o = np.asarray(observed, dtype=float)
    m = np.asarray(modelled, dtype=float)
    if o.shape != m.shape or o.ndim != 1:
        raise ValueError("observed and modelled must be 1-d arrays of the same length")
    if len(o) == 0:
        raise ValueError("observed: no counted links to compare")
    g = geh(m, o)
    error = m - o
    sst = float(np.sum((o - o.mean()) ** 2))
    rmse = float(np.sqrt(np.mean(error**2)))
    return FitReport(
        n_links=len(o),
        share_geh_below_5=float(np.mean(g < GEH_LIMIT)),
        mean_geh=float(g.mean()),
        rmse_veh_h=rmse,
        percent_rmse=100.0 * rmse / o.mean() if o.mean() > 0 else float("inf"),
        r_squared=1.0 - float(np.sum(error**2)) / sst if sst > 0 else float("nan"),
        observed_veh_h=o,
        modelled_veh_h=m,
        geh=g,
        links=np.arange(len(o)) if links is None else np.asarray(links),
    )
