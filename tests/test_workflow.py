"""The real Snakemake DAG on the tiny config, in a temporary working directory."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import FIGURES, REPO, TINY, readme_csv_columns, snakemake_command, tiny_models

pytestmark = pytest.mark.workflow


def snakemake(
    workdir: Path, *args: str, check: bool = True, pythonpath: str | None = None
) -> subprocess.CompletedProcess:
    """Run snakemake on the repo's Snakefile in `workdir` (targets first: --configfile takes nargs)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(workdir / ".numba")}
    # the worked example's model class must be importable at start-up (its module is checked there)
    pythonpath = pythonpath or str(REPO / "examples" / "byom")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    cmd = snakemake_command(workdir, *args)
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'job count' table of a dry run, as {rule: count}."""
    text = result.stdout + result.stderr
    match = re.search(r"Job stats:\n(.*?)\n\n", text, flags=re.S)
    table = match.group(1) if match else ""
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("run")


def test_dry_run_lists_the_whole_dag(workdir):
    jobs = planned_jobs(snakemake(workdir, "-n", "all", "--configfile", str(TINY)))
    for rule in (
        "synthesize_brains",
        "slices",
        "intensity_sigma_grid",
        "texture_sigma_curve",
        "train_model",
        "model_intensity_curve",
        *FIGURES,
    ):
        assert rule in jobs, (rule, jobs)
    n_models = len(tiny_models())  # the paper's six, the DAE, the DDPM
    assert jobs["train_model"] == n_models and jobs["model_intensity_curve"] == 2 * n_models


def test_paper_and_zoo_targets_build_their_part_only(tmp_path):
    paper = planned_jobs(snakemake(tmp_path, "-n", "paper", "--configfile", str(TINY)))
    zoo = planned_jobs(snakemake(tmp_path, "-n", "zoo", "--configfile", str(TINY)))
    assert set(FIGURES) <= set(paper), paper
    assert not any(rule.startswith(("score_", "scores_")) for rule in paper), paper
    assert {"scores_exp1", "scores_blindspot", "scores_textures", "scores_exp3"} <= set(zoo)
    assert not any(rule.startswith("fig") for rule in zoo) and "provenance" not in zoo, zoo


def test_fig1b_builds_only_what_it_needs_and_reruns_only_what_changed(workdir):
    result = snakemake(workdir, "results/fig1b.pdf", "--configfile", str(TINY), "--cores", "2")
    terminal = result.stderr + result.stdout
    finished = re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)$", terminal, flags=re.M)
    assert set(finished) == {"synthesize_brains", "slices", "fig1b"}, finished
    # profiles/default keeps the terminal quiet: one line and a progress count per finished job,
    # no per-job block listing inputs (the slices job would list every volume)
    assert len(re.findall(r"^\d+ of \d+ steps", terminal, flags=re.M)) == len(finished)
    assert "input:" not in terminal and "sub-0000.nii.gz" not in terminal, terminal[-3000:]
    for suffix in (".pdf", ".png", ".csv"):
        assert (workdir / "results" / f"fig1b{suffix}").stat().st_size > 0
    table = pd.read_csv(workdir / "results" / "fig1b.csv")
    assert {"bin_left", "bin_right", "count", "mean", "mode"} <= set(table.columns)
    assert (workdir / "results" / "data" / "test.npy").exists()
    for split in ("train", "val"):  # Fig. 1(b) is a histogram of the test slices only
        assert not (workdir / "results" / "data" / f"{split}.npy").exists()
    # a second call has nothing to do
    again = snakemake(workdir, "-n", "results/fig1b.pdf", "--configfile", str(TINY))
    assert "Nothing to be done" in again.stdout + again.stderr
    # restyling reruns the plot only
    restyle = workdir / "restyle.yaml"
    restyle.write_text("figures: {dpi: 61}\n")
    jobs = planned_jobs(
        snakemake(workdir, "-n", "results/fig1b.pdf", "--configfile", str(TINY), str(restyle))
    )
    assert set(jobs) == {"fig1b", "total"}, jobs
    # a data parameter reruns the data jobs and what depends on them
    data = workdir / "data.yaml"
    data.write_text("datasets: {synthetic: {target_mean: 0.4}}\n")
    jobs = planned_jobs(
        snakemake(workdir, "-n", "results/fig1b.pdf", "--configfile", str(TINY), str(data))
    )
    assert set(jobs) == {"synthesize_brains", "slices", "fig1b", "total"}, jobs
    # a validation-split parameter does not touch the test slices, so fig1b stays done
    val = workdir / "val.yaml"
    val.write_text("split: {val_fraction: 0.3}\n")
    again = snakemake(workdir, "-n", "results/fig1b.pdf", "--configfile", str(TINY), str(val))
    assert "Nothing to be done" in again.stdout + again.stderr


def _matched_sigma_benchmark():
    """benchmarks/matched_sigma.py as a module (benchmarks/ is not a package)."""
    import importlib.util

    path = REPO / "benchmarks" / "matched_sigma.py"
    spec = importlib.util.spec_from_file_location("matched_sigma", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_the_matched_sigma_benchmark_names_a_model_it_cannot_train(monkeypatch, capsys, tmp_path):
    bench = _matched_sigma_benchmark()
    argv = ["matched_sigma.py", "--configfile", str(TINY), "--models", "ae128", "unet"]
    monkeypatch.setattr(sys, "argv", [*argv, "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        bench.main()
    assert exit_.value.code == 2
    assert "--models unet: not a model the config trains ['ae128'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # stopped before rendering anything


@pytest.fixture(scope="module")
def byom_run(workdir) -> tuple[str, ...]:
    """`all` on the tiny config with the README's own models; returns its --configfile arguments."""
    example = REPO / "examples" / "byom"
    snakemake(workdir, "results/data/train.npy", "--configfile", str(TINY), "--cores", "2")
    subprocess.run(
        [
            sys.executable,
            str(example / "train_tiny.py"),
            "results/data/train.npy",
            "my_model.pt",
            "my_model.torchscript.pt",
        ],
        cwd=workdir,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(example)},
    )
    snakemake(
        workdir,
        "all",
        "--configfile",
        str(TINY),
        str(example / "byom.yaml"),
        "--cores",
        "2",
        pythonpath=str(example),
    )
    return ("--configfile", str(TINY), str(example / "byom.yaml"))


def test_whole_dag_with_your_own_models(workdir, byom_run):
    """The README's worked example on the tiny config: train your model with your code, then
    `all` evaluates it (class + state dict, and TorchScript) exactly like ours."""
    results = workdir / "results"
    for figure in FIGURES:
        for suffix in (".pdf", ".png", ".csv"):
            assert (results / f"{figure}{suffix}").stat().st_size > 0, figure
    fig3b = pd.read_csv(results / "fig3b.csv")
    assert {"model", "intensity", "ap"} <= set(fig3b.columns)
    assert set(fig3b["model"]) == {
        "ae128",
        "ae64",
        "ae32",
        "sae1",
        "sae2",
        "vqvae",
        "tiny_ae",
        "tiny_ts",
    }
    # the same weights through a class or TorchScript give the same curve
    by_model = fig3b.set_index(["model", "intensity"])["ap"]
    pd.testing.assert_series_equal(by_model["tiny_ae"], by_model["tiny_ts"], check_names=False)
    fig4b = pd.read_csv(results / "fig4b.csv")
    assert {"model", "reconstruction_error", "ap"} <= set(fig4b.columns) and len(fig4b) == 8
    fig1a = pd.read_csv(results / "fig1a.csv")
    assert list(fig1a.columns) == ["intensity", "sigma", "ap"] and len(fig1a) == 6 * 5
    fig2 = pd.read_csv(results / "fig2.csv")
    assert {"anomaly", "sigma", "ap"} <= set(fig2.columns)
    centres = pd.read_csv(results / "data" / "anomaly_centres.csv")
    assert list(centres.columns) == ["image", "row", "col", "radius"]


def test_every_figure_csv_has_the_columns_the_readme_lists(workdir, byom_run):
    listed = readme_csv_columns()
    for figure in FIGURES:
        columns = list(pd.read_csv(workdir / "results" / f"{figure}.csv").columns)
        assert columns == listed[figure], (figure, columns)


def test_rendered_docs_carry_the_runs_numbers(workdir, byom_run, tmp_path):
    """`render-docs` on the tiny run: every block of the README and docs/*.md is rendered from its
    CSVs (the user's own models included); --check then passes; a changed CSV changes the text."""
    from residual_pitfalls.cli import main

    results = tmp_path / "results"
    shutil.copytree(
        workdir / "results", results, ignore=shutil.ignore_patterns("*.parquet", "*.np*")
    )
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    copies = []
    for doc in docs:
        copies.append(tmp_path / doc.name)
        copies[-1].write_text(doc.read_text())
    assert main(["render-docs", *map(str, copies), "--results", str(results)]) == 0
    rendered = "\n".join(c.read_text() for c in copies)
    assert "(render with" not in rendered
    fig3a = pd.read_csv(results / "fig3a_per_image_bn.csv")
    fig3a = fig3a[(fig3a["curve"] == "model") & (fig3a["batchnorm"] == "eval")]
    for _, row in fig3a.drop_duplicates("model").iterrows():
        assert f"| {row['label']} | {row['matched_sigma']:.2f}" in rendered, row["label"]
    assert "Exp. 3.2 My tiny AE" in rendered  # the user's model in the zoo's table
    assert main(["render-docs", *map(str, copies), "--results", str(results), "--check"]) == 0
    changed = pd.read_csv(results / "fig3a_per_image_bn.csv")
    changed["matched_sigma"] += 0.5
    changed.to_csv(results / "fig3a_per_image_bn.csv", index=False)
    assert main(["render-docs", *map(str, copies), "--results", str(results), "--check"]) == 1


def test_fig5_sigma_is_a_config_key_that_reruns_only_fig5(workdir, byom_run):
    overlay = workdir / "example_sigma.yaml"
    overlay.write_text("evaluation: {example_sigma: 2.0}\n")
    jobs = planned_jobs(snakemake(workdir, "-n", "all", *byom_run, str(overlay)))
    # provenance records the configuration, so it is rebuilt too
    assert set(jobs) - {"provenance", "all", "total"} == {"fig5"}, jobs


# Settings that change only what a figure shows: a change must plan the plots (and provenance,
# which records the config), never an experiment. Fig. 4(a)'s example intensity also redoes the
# four example reconstructions of each example model (model_examples), and nothing else.
FIGURE_ONLY = {
    "figures: {dpi: 120}": set(),
    "figures: {cmap: viridis}": {"check_setup"},  # the colormap is checked in that job
    "figures: {font_size: 11}": set(),
    "figures: {bootstrap: 50}": set(),
    "evaluation: {example_sigma: 2.0}": set(),
    "evaluation: {matched_models: [ae64]}": set(),
    "evaluation: {example_intensity: 0.7}": {"model_examples"},
}


@pytest.mark.parametrize("setting", list(FIGURE_ONLY))
def test_a_figure_only_setting_plans_only_plot_jobs(workdir, byom_run, setting):
    overlay = workdir / "figure_only.yaml"
    overlay.write_text(setting + "\n")
    jobs = planned_jobs(snakemake(workdir, "-n", "all", *byom_run, str(overlay)))
    planned = set(jobs) - {"provenance", "all", "total"}
    lesion_plots = {"lesions_metrics", "lesions_by_intensity"}  # Exp 4's two figures
    plots = {
        rule for rule in planned if rule.startswith(("fig", "scores_")) or rule in lesion_plots
    }
    assert planned and planned - plots == FIGURE_ONLY[setting], jobs


def test_report_of_the_tiny_run_has_no_rst_errors(workdir, byom_run):
    """`snakemake --report` after `all`: docutils writes a "System Message" into the page for every
    reStructuredText error in a caption (e.g. `|x|` read as a substitution); there must be none, and
    every figure's caption must be in it."""
    report = workdir / "report.html"
    result = snakemake(workdir, "all", *byom_run, "--report", str(report))
    html = report.read_text()
    assert "System Message" not in html, result.stderr[-3000:]
    assert "ERROR/" not in result.stderr, result.stderr[-3000:]
    for figure in FIGURES:
        assert f"{figure}.png" in html, figure
    assert "Fig. 4(b). Per model: mean reconstruction error" in html
