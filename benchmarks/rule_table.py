"""Markdown table of time and peak memory per rule from a run's Snakemake benchmark files.

python benchmarks/rule_table.py results/benchmarks

`peak_rss_mb` adds up the resident memory of a job's processes, so pages that forked workers share
with their parent count once per process; `peak_pss_mb` shares them out (what the job really holds,
and what `mem_mb` is sized from).
"""

import sys
from pathlib import Path

import pandas as pd


def rule_table(root: Path) -> pd.DataFrame:
    """One row per rule: jobs, total and longest wall time (s), largest max_rss and max_pss (MB)."""
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0].removesuffix(".tsv")
        record = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append(
            {
                "rule": rule,
                "s": float(record["s"]),
                "max_rss": float(record["max_rss"]),
                "max_pss": float(record["max_pss"]),
            }
        )
    if not rows:
        raise SystemExit(f"no Snakemake benchmark files (*.tsv) under {root}")
    frame = pd.DataFrame(rows)
    return (
        frame.groupby("rule")
        .agg(
            jobs=("s", "size"),
            total_s=("s", "sum"),
            longest_s=("s", "max"),
            peak_rss_mb=("max_rss", "max"),
            peak_pss_mb=("max_pss", "max"),
        )
        .sort_values("total_s", ascending=False)
        .round(1)
    )


def markdown(table: pd.DataFrame) -> str:
    """The table as GitHub markdown, the index as first column (no tabulate needed)."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = table.reset_index().itertuples(index=False)  # keeps each column's dtype (jobs: int)
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(rule_table(Path(sys.argv[1] if len(sys.argv) > 1 else "results/benchmarks"))))
