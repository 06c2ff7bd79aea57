"""The workflow and `residual-pitfalls check-config` refuse every bad config with the same message.

Both call ``config.check_all``: the workflow at start-up (parse) and in its ``check_setup`` job
(the checks that import code), check-config all at once. The bad configs are collected from the
test suite's own parametrized overlays (so a new one is covered without being listed twice),
plus the start-up checks of issues 15, 18 and 19.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import test_cli
import test_config
import test_scores_workflow
from helpers import REPO, TINY, snakemake_command

pytestmark = pytest.mark.workflow

NEW = [
    "image_size: 64.0",  # the schema counts 64.0 as an integer
    "models: {ae: {arch: autoencoder, hparams: {latent_dim: -5}}}",
    "models: {mine: {checkpoint: no_such_model.pt}}",  # issue 19.3: was "Nothing to be done"
    "models: {mine: {checkpoint: Snakefile, class_path: 'no_such_pkg.nets:Net'}}",
    "models: {mine: {checkpoint: Snakefile, class_path: 'os.path:NoSuchNet'}}",  # found, no class
    "datasets: {synthetic: {subjects: 2}}",  # too few volumes for the split
    "split: {val_fraction: 0}\ntraining: {val_every: 0}",  # residual_zscore needs validation
    "figures: {cmap: coolwrm}",
]


def _overlays(module, function: str) -> list[str]:
    """The first value of every parameter set of a parametrized test in the suite."""
    (mark,) = [m for m in getattr(module, function).pytestmark if m.name == "parametrize"]
    return [str(params[0]) for params in mark.args[1]]


BAD = sorted(
    {
        *_overlays(test_config, "test_non_finite_numbers_stop_the_start_up_naming_the_key"),
        *_overlays(test_config, "test_schema_errors_are_short_and_name_the_key"),
        *_overlays(test_config, "test_names_outside_the_allowed_pattern_stop_the_start_up"),
        *_overlays(test_config, "test_styling_values_are_bounded_at_start_up"),
        *_overlays(test_config, "test_schema_gaps_are_closed_at_start_up"),
        *_overlays(test_cli, "test_check_config_names_the_bad_key_in_one_line"),
        *_overlays(test_scores_workflow, "test_bad_zoo_config_is_a_start_up_error_naming_the_key"),
        *NEW,
    }
)


def _env(user: Path) -> dict:
    paths = [str(REPO / "src"), str(user), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}


@pytest.mark.parametrize("overlay", BAD)
def test_workflow_and_check_config_refuse_with_the_same_message(tmp_path, overlay):
    user = tmp_path / "user"
    user.mkdir()
    (user / "broken_scores.py").write_text(test_scores_workflow.BROKEN)
    (tmp_path / "bad.yaml").write_text(overlay + "\n")
    cli = subprocess.run(
        [sys.executable, "-m", "residual_pitfalls.cli", "check-config", "--workflow", str(REPO)]
        + [str(TINY), str(tmp_path / "bad.yaml")],
        capture_output=True, text=True, cwd=tmp_path, env=_env(user), timeout=300,
    )  # fmt: skip
    assert cli.returncode == 1, cli.stdout + cli.stderr
    message = cli.stderr.strip().removeprefix("error: ")
    assert message and "\n" not in message, cli.stderr
    # parse-time checks stop the run before any job; the others stop the check_setup job
    cmd = snakemake_command(tmp_path, "results/checks/setup.ok", "--cores", "1")
    run = subprocess.run(
        [*cmd, "--configfile", str(TINY), str(tmp_path / "bad.yaml")],
        capture_output=True, text=True, env=_env(user), timeout=600,
    )  # fmt: skip
    output = run.stdout + run.stderr
    log = tmp_path / "logs" / "check_setup.log"
    output += log.read_text() if log.exists() else ""
    assert run.returncode != 0, output[-2000:]
    assert message in output, (message, output[-3000:])
