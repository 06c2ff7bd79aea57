"""Markdown table of time and peak memory per rule from a run's Snakemake benchmark files.

python benchmarks/rule_table.py results/benchmarks
"""

import sys
from pathlib import Path

import pandas as pd


def rule_table(root: Path) -> pd.DataFrame:
    """One row per rule: jobs, total and longest wall time (s), largest max_rss (MB)."""
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0].removesuffix(".tsv")
        record = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append({"rule": rule, "s": float(record["s"]), "max_rss": float(record["max_rss"])})
    frame = pd.DataFrame(rows)
    return (
        frame.groupby("rule")
        .agg(
            jobs=("s", "size"),
            total_s=("s", "sum"),
            longest_s=("s", "max"),
            peak_mb=("max_rss", "max"),
        )
        .sort_values("total_s", ascending=False)
        .round(1)
    )


if __name__ == "__main__":
    print(
        rule_table(Path(sys.argv[1] if len(sys.argv) > 1 else "results/benchmarks")).to_markdown()
    )
