"""The printable report of a run against its baseline (PDF, made on the server).

Page 1: what was asked (city, scenario, its edits in words, simulator and parameters, who ran it
and when on the city's clock) and the key figures side by side with the baseline. Page 2: a map
of the simulator's main result (``Simulator.report_map``) for the scenario and the baseline on
the same colour scale, and the distribution of that result. Figures are written as the web map
writes them (:func:`quantity`): durations in minutes, whole people, energy in MWh/GWh.
"""

from __future__ import annotations

import io
import math
from datetime import datetime
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")  # no display on a server

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402
from reportlab.lib import colors  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import getSampleStyleSheet  # noqa: E402
from reportlab.lib.units import cm  # noqa: E402
from reportlab.platypus import (  # noqa: E402
    Image,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from . import capabilities  # noqa: E402
from . import edits as edit_registry  # noqa: E402
from .models import BuildingResult, EdgeResult, Run  # noqa: E402

WHOLE_UNITS = {"persons", "people", "veh", "veh/h", "trips", "buildings"}
ENERGY_PREFIXES = ((1e9, "TWh"), (1e6, "GWh"), (1e3, "MWh"))


def duration(seconds: float) -> str:
    """ "45 s", "5 min 30 s", "32 min", "2 h 05 min" (as the web map's kpis.js)."""
    sign = "−" if seconds < 0 else ""
    s = round(abs(seconds))
    if s < 60:
        return f"{sign}{s} s"
    if s < 600:
        return f"{sign}{s // 60} min {s % 60:02d} s"
    if s < 7200:
        return f"{sign}{round(s / 60)} min"
    m = round(s / 60)
    return f"{sign}{m // 60} h {m % 60:02d} min"


def quantity(value, unit: str | None) -> str:
    """A figure with its unit at a sensible magnitude; "–" for none."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return "–"
    if unit == "s":
        return duration(value)
    if unit in WHOLE_UNITS:
        return f"{round(value):,} {unit}"
    if unit and unit.startswith("kWh"):
        rest = unit[3:]
        for factor, name in ENERGY_PREFIXES:
            if abs(value) >= 10 * factor:
                return f"{value / factor:,.1f} {name}{rest}"
        return f"{value:,.0f} {unit}"
    plain = not unit or unit == "1"
    if plain and value != 0 and abs(value) < 0.01:
        text = f"{value:.1e}"
    else:
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return text if plain else f"{text} {unit}"


def _when(run: Run) -> str:
    zone = ZoneInfo(run.scenario.city.time_zone or "UTC")
    moment: datetime | None = run.job.finished_at or run.job.created_at
    return moment.astimezone(zone).strftime(f"%d %B %Y, %H:%M ({zone.key})") if moment else ""


def _kpi_table(run: Run, base: Run | None, spec) -> Table:
    head = ["Key figure", "Scenario"] + (["Baseline", "Change"] if base else [])
    rows = [head]
    for kpi in spec.kpis:
        if kpi.key not in run.kpis:
            continue
        value = run.kpis.get(kpi.key)
        row = [kpi.label, quantity(value, kpi.unit)]
        if base is not None:
            other = base.kpis.get(kpi.key)
            numeric = all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, other)
            )
            delta = quantity(value - other, kpi.unit) if numeric else "–"
            if numeric and value - other > 0:
                delta = f"+{delta}"
            row += [quantity(other, kpi.unit), delta]
        rows.append(row)
    table = Table(rows, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f2f2f2")]),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table


def _values(run: Run, kind: str, field: str):
    """Geometries (shapely, lon/lat) and values of one result field of a run."""
    model = {"edges": EdgeResult, "buildings": BuildingResult}[kind]
    rows = model.objects.filter(run=run).exclude(**{f"{field}__isnull": True})
    rows = rows.values_list("geom", field)
    geoms = [shapely.from_wkb(bytes(g.wkb)) for g, _ in rows]
    return geoms, np.array([v for _, v in rows], dtype=float)


def _draw(ax, geoms, values, kind: str, norm, cmap) -> None:
    colours = cmap(norm(values)) if len(values) else []
    for geom, colour in zip(geoms, colours, strict=False):
        if kind == "edges":
            xy = np.asarray(geom.coords)
            ax.plot(xy[:, 0], xy[:, 1], color=colour, linewidth=1.2)
        else:
            for poly in getattr(geom, "geoms", [geom]):
                xy = np.asarray(poly.exterior.coords)
                ax.fill(xy[:, 0], xy[:, 1], color=colour, linewidth=0)
    ax.set_aspect(1 / max(0.2, math.cos(math.radians(np.mean(ax.get_ylim())))))
    ax.set_xticks([])
    ax.set_yticks([])


def _figure(run: Run, base: Run | None, spec) -> bytes | None:
    """Maps (scenario, baseline) on one colour scale and the distribution: a PNG."""
    if spec.report_map is None:
        return None
    kind, field, words, unit = spec.report_map
    geoms, values = _values(run, kind, field)
    if not len(values):
        return None
    base_geoms, base_values = _values(base, kind, field) if base is not None else ([], [])
    both = np.concatenate([values, np.asarray(base_values, dtype=float)])
    top = float(np.nanpercentile(both, 98)) or float(np.nanmax(both)) or 1.0
    norm = matplotlib.colors.Normalize(vmin=float(np.nanmin(both)), vmax=top)
    cmap = matplotlib.colormaps["viridis_r" if kind == "buildings" else "plasma"]
    panels = 3 if base is not None else 2
    fig, axes = plt.subplots(
        1, panels, figsize=(4 * panels, 3.8), dpi=130, layout="constrained",
        gridspec_kw={"width_ratios": [1] * (panels - 1) + [0.9]},
    )  # fmt: skip
    label = f"{words} ({unit})" if unit and unit != "1" else words
    _draw(axes[0], geoms, values, kind, norm, cmap)
    axes[0].set_title("Scenario", fontsize=9)
    if base is not None:
        _draw(axes[1], base_geoms, base_values, kind, norm, cmap)
        axes[1].set_title("Baseline", fontsize=9)
        # both maps show the same extent
        axes[1].set_xlim(axes[0].get_xlim())
        axes[1].set_ylim(axes[0].get_ylim())
    bar = fig.colorbar(
        matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[: panels - 1], shrink=0.8
    )
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    hist = axes[-1]
    bins = np.linspace(norm.vmin, top, 20)
    hist.hist(np.clip(values, None, top), bins=bins, alpha=0.7, label="scenario")
    if base is not None:
        hist.hist(np.clip(base_values, None, top), bins=bins, alpha=0.5, label="baseline")
        hist.legend(fontsize=8)
    hist.set_xlabel(label, fontsize=8)
    hist.set_ylabel("road links" if kind == "edges" else "buildings", fontsize=8)
    hist.tick_params(labelsize=7)
    out = io.BytesIO()
    fig.savefig(out, format="png", bbox_inches="tight")
    plt.close(fig)
    return out.getvalue()


def _image(png: bytes, width: float) -> Image:
    """The PNG at ``width`` (points), its own aspect kept."""
    from reportlab.lib.utils import ImageReader

    w, h = ImageReader(io.BytesIO(png)).getSize()
    return Image(io.BytesIO(png), width=width, height=width * h / w)


def run_report_pdf(run: Run, base: Run | None = None) -> bytes:
    """The report of ``run`` (against ``base``, a baseline run, when given) as PDF bytes."""
    spec = capabilities.get(run.simulator)
    scenario, city = run.scenario, run.scenario.city
    styles = getSampleStyleSheet()
    story = [
        Paragraph(f"{scenario.name}: {spec.label}", styles["Title"]),
        Paragraph(
            f"{city.name} · run of {_when(run)}"
            + (f" by {run.job.owner.username}" if run.job.owner else "")
            + f" · scenario version {run.scenario_version}",
            styles["Normal"],
        ),
        Spacer(1, 0.4 * cm),
        Paragraph("What was changed", styles["Heading2"]),
    ]
    labels = [edit_registry.edit_type(e["type"]).describe(city, e) for e in scenario.edits]
    for text in labels or ["Nothing: this is the city as imported (the baseline)."]:
        story.append(Paragraph(f"• {text}", styles["Normal"]))
    story += [Spacer(1, 0.3 * cm), Paragraph("Key figures", styles["Heading2"])]
    if base is not None:
        story.append(Paragraph(f"Against the baseline run of {_when(base)}.", styles["Normal"]))
    story += [_kpi_table(run, base, spec), Spacer(1, 0.3 * cm)]
    for warning in run.warnings or []:
        story.append(Paragraph(f"Note: {warning.get('message', '')}", styles["Italic"]))
    picture = _figure(run, base, spec)
    if picture is not None:
        story += [
            PageBreak(),
            Paragraph(f"{spec.report_map[2]} on the map", styles["Heading2"]),
            _image(picture, width=17 * cm),
        ]
    params = ", ".join(f"{k} = {v}" for k, v in sorted(run.params.items()) if v is not None)
    story += [
        Spacer(1, 0.4 * cm),
        Paragraph(
            f"Parameters: {params}. Engine {run.engine_version}; input checksum "
            f"{run.input_checksum[:12]}. Made by CityTwin from run {run.pk}.",
            styles["Normal"],
        ),
    ]
    out = io.BytesIO()
    SimpleDocTemplate(
        out, pagesize=A4, title=f"{scenario.name}: {spec.label}", author="CityTwin",
        leftMargin=2 * cm, rightMargin=2 * cm, topMargin=2 * cm, bottomMargin=2 * cm,
    ).build(story)  # fmt: skip
    return out.getvalue()
