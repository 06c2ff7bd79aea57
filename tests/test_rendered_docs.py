"""The docs' rendered blocks (residual_pitfalls.reporting.rendered_docs) on small hand-made CSVs; the same
on a real tiny run is in tests/test_workflow.py (test_rendered_docs_carry_the_runs_numbers)."""

import re

import pandas as pd
import pytest
from helpers import REPO

from residual_pitfalls.cli import main
from residual_pitfalls.reporting.rendered_docs import BLOCK, RENDERERS, RenderError, render_text


def summary(folder, models=("ae", "vq")):
    rows = {"score": ["residual", "ssim"], "blind_spot_area": [0.3, 0.6]}
    rows |= {"min_ap_sigma1": [0.2, 0.5], "min_ap_sigma2": [0.05, 0.07]}
    for i, model in enumerate(models):
        rows[f"exp3_ap_{model}"] = [0.5 - i / 10, 0.2]
    pd.DataFrame(rows).to_csv(folder / "scores_summary.csv", index=False)


def test_every_block_in_the_docs_names_a_renderer():
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    names = {m.group(2) for path in docs for m in BLOCK.finditer(path.read_text())}
    assert names and names <= set(RENDERERS), names - set(RENDERERS)
    assert {"headline", "matched-sigma", "scores-summary"} <= names


def test_the_summary_table_takes_every_model_and_marks_the_best(tmp_path):
    summary(tmp_path, models=("ae", "vq", "mine"))
    text = render_text("<!-- rendered:scores-summary -->\nold\n<!-- /rendered -->", tmp_path)
    assert "old" not in text
    assert "Exp. 3.2 mine" in text  # a user's model added to the run gets its column
    assert "| `residual` | **0.300** | 0.200 | 0.050 | **0.500** |" in text
    assert len(re.findall(r"^\| `", text, flags=re.M)) == 2


def test_a_changed_csv_changes_the_text(tmp_path):
    block = "<!-- rendered:scores-summary -->\n<!-- /rendered -->"
    summary(tmp_path)
    before = render_text(block, tmp_path)
    table = pd.read_csv(tmp_path / "scores_summary.csv")
    table.loc[0, "blind_spot_area"] = 0.25
    table.to_csv(tmp_path / "scores_summary.csv", index=False)
    after = render_text(block, tmp_path)
    assert before != after and "**0.250**" in after and render_text(after, tmp_path) == after


def test_a_missing_file_or_renderer_is_an_error_naming_it(tmp_path):
    with pytest.raises(RenderError, match="fig3a.csv: missing"):
        render_text("<!-- rendered:matched-sigma -->\n<!-- /rendered -->", tmp_path)
    with pytest.raises(RenderError, match="'rendered:nope' names no renderer"):
        render_text("<!-- rendered:nope -->\n<!-- /rendered -->", tmp_path)
    pd.DataFrame({"score": ["residual"]}).to_csv(tmp_path / "scores_summary.csv", index=False)
    with pytest.raises(RenderError, match="no column blind_spot_area"):
        render_text("<!-- rendered:scores-summary -->\n<!-- /rendered -->", tmp_path)


def test_the_cli_writes_then_checks(tmp_path, capsys):
    summary(tmp_path)
    doc = tmp_path / "page.md"
    doc.write_text("A\n<!-- rendered:scores-summary -->\nstale\n<!-- /rendered -->\nB\n")
    args = [str(doc), "--results", str(tmp_path)]
    assert main(["render-docs", *args, "--check"]) == 1  # stale: --check fails, writes nothing
    assert "stale" in doc.read_text()
    assert main(["render-docs", *args]) == 0
    assert "stale" not in doc.read_text() and doc.read_text().startswith("A\n")
    assert main(["render-docs", *args, "--check"]) == 0
    assert "ok:" in capsys.readouterr().out


def test_the_lesion_table_counts_detections_inside_and_outside_the_bulk(tmp_path):
    bins = pd.DataFrame(
        {
            "model": ["ae"] * 3 + ["ae"] * 3,
            "score": ["residual"] * 3 + ["ssim"] * 3,
            "bin_left": [0.0, 40.0, 90.0] * 2,
            "bin_right": [10.0, 50.0, 100.0] * 2,
            "n_lesions": [2, 5, 3] * 2,
            "n_detected": [1, 1, 3, 0, 5, 0],
        }
    )
    bins.to_csv(tmp_path / "lesions_embedded_by_intensity.csv", index=False)
    metrics = pd.DataFrame(
        {"model": ["ae", "ae"], "score": ["residual", "ssim"], "per_image_ap": [0.2, 0.4]}
    )
    metrics.to_csv(tmp_path / "lesions_embedded_metrics.csv", index=False)
    text = render_text("<!-- rendered:lesions -->\n<!-- /rendered -->", tmp_path)
    # the residual: 1 of the 5 lesions between the 10th and 90th percentile, 4 of the 5 outside
    assert "| ae | 1 of 5 | 4 of 5 | 0.200 | `ssim` (0.400) |" in text


def test_the_modern_table_gives_each_models_sigma_and_ap(tmp_path):
    pd.DataFrame(
        {
            "model": ["dae", "dae", "ae"],
            "label": ["DAE", "DAE", "AE"],
            "matched_sigma": [0.5, 0.5, 3.25],
            "mean_ap_exp32": [0.6587, 0.6587, 0.2419],
        }
    ).to_csv(tmp_path / "fig3_modern.csv", index=False)
    text = render_text("<!-- rendered:modern -->\n<!-- /rendered -->", tmp_path)
    assert "| DAE | 0.50 | 0.659 |" in text and "| AE | 3.25 | 0.242 |" in text


def test_a_lower_bound_is_rounded_down_never_up_to_one():
    from residual_pitfalls.reporting.rendered_docs import at_least

    assert at_least("AP", 0.99962) == "AP ≥ 0.999"
    assert at_least("AP", 1.0) == "AP = 1"
    assert at_least("AP", 0.5) == "AP ≥ 0.500"
