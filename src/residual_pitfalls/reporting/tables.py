"""The scorer zoo's summary as a readable HTML table for the Snakemake report: named columns grouped
by experiment, three decimals, the best value per column in bold, one row per scorer."""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

STYLE = """<style>
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; }
th { background: #f3f3f3; text-align: center; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { text-align: left; font-family: monospace; }
tr:nth-child(even) td { background: #fafafa; }
caption { caption-side: top; text-align: left; padding-bottom: 6px; color: #444; }
</style>"""

# the Exp 1 columns: name shown, and whether lower is better
EXP1 = {
    "blind_spot_area": ("blind-spot area (lower is better)", True),
    "min_ap_sigma1": ("worst AP, σ ≈ 1", False),
    "min_ap_sigma2": ("worst AP, σ ≈ 2", False),
}


def _column_name(column: str, labels: Mapping[str, str]) -> tuple[str, bool]:
    if column in EXP1:
        return EXP1[column]
    for model, label in sorted(labels.items(), key=lambda kv: -len(kv[0])):
        if column.endswith(f"_{model}") and column.startswith("exp3_"):
            metric = column.removeprefix("exp3_").removesuffix(f"_{model}")
            return f"Exp. 3.2 {'AP' if metric == 'ap' else metric}: {label}", False
    return column, False


def summary_html(table: pd.DataFrame, labels: Mapping[str, str]) -> str:
    """`table` (scores_summary.csv: score + numeric columns) as a standalone HTML page."""
    header, rows = ["<th>scorer</th>"], [[f"<td>{html.escape(s)}</td>"] for s in table["score"]]
    for column in table.columns.drop("score"):
        name, low = _column_name(column, labels)
        header.append(f"<th>{html.escape(name)}</th>")
        values = table[column]
        best = values.min() if low else values.max()
        for row, value in zip(rows, values, strict=True):
            text = "–" if pd.isna(value) else f"{value:.3f}"
            row.append(f"<td><b>{text}</b></td>" if value == best else f"<td>{text}</td>")
    caption = (
        "One row per scorer; best value per column in bold. Exp. 3.2: mean per-image AP over the "
        "intensities when the model reconstructs the anomalous image."
    )
    body = "\n".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>{STYLE}</head><body>\n"
        f"<table><caption>{caption}</caption>\n<thead><tr>{''.join(header)}</tr></thead>\n"
        f"<tbody>\n{body}\n</tbody></table>\n</body></html>\n"
    )
