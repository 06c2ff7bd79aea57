"""Bad configuration gets a clear error at start-up that names the key."""

import copy
import os
import signal
import subprocess
import time
from pathlib import Path

import nibabel as nib
import pytest
import yaml
from helpers import REPO, TINY, run_snakemake, snakemake_command
from jsonschema import Draft202012Validator
from snakemake.utils import validate

from residual_pitfalls.architectures import ARCHITECTURES as ARCHS
from residual_pitfalls.config import ConfigError, check_config, check_finite, describe_schema_error

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def config() -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    validate(config, str(SCHEMA))
    return config


def _merged(base: dict, overlay: dict) -> dict:
    """`overlay` on top of `base`, mappings merged key by key (as Snakemake merges --configfile)."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def test_default_and_presets_are_valid(config):
    check_config(config, ARCHS)
    for preset in ("tiny", "paper", "lesions"):
        overlay = yaml.safe_load((REPO / "config" / f"{preset}.yaml").read_text())
        merged = _merged(config, overlay)
        validate(merged, str(SCHEMA))
        check_config(merged, ARCHS)
        # the preset is applied (its scalars win), and a broken copy of it is refused
        for key, value in overlay.items():
            if not isinstance(value, dict):
                assert merged[key] == value, (preset, key)
        broken = copy.deepcopy(merged)
        broken["anomaly"]["radius"] = broken["image_size"]
        with pytest.raises(ConfigError, match="'anomaly.radius'"):
            check_config(broken, ARCHS)


def _schema_defaults(schema: dict, path: tuple = ()) -> dict[tuple, object]:
    """{key path: default} of every fixed key of the schema (not of the per-name maps)."""
    found = {}
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub:
            found[(*path, key)] = sub["default"]
        found |= _schema_defaults(sub, (*path, key))
    return found


def test_schema_defaults_agree_with_config_yaml():
    """config.yaml is always read, but the defaults document the keys: they must say the same."""
    schema = yaml.safe_load(SCHEMA.read_text())
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    defaults = _schema_defaults(schema)
    assert ("anomaly", "radius") in defaults and ("seed",) in defaults
    for path, default in defaults.items():
        node = config
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if node != {}:
            assert node == default, (
                f"schema default of {'.'.join(path)} is {default!r}, config.yaml says {node!r}"
            )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("anomaly", "raduis"), 5, "'raduis' was unexpected"),
        (("grid", "sigma", "num"), 0, "0 is less than the minimum of 1"),
        (("anomaly", "textures"), ["sink", "swirl"], "'swirl' is not one of"),
        (("anomaly", "radius"), -2, "-2 is less than or equal to the minimum of 0"),
        (("training", "steps"), "many", "'many' is not of type 'integer'"),
        (("datasets", "mood", "normalisation"), "zscore", "'zscore' is not one of"),
    ],
)
def test_schema_rejects_typos_and_wrong_types(config, path, value, message):
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(Exception, match=message):
        validate(config, str(SCHEMA))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(dataset="nope"), "'dataset': 'nope' is not an entry"),
        (lambda c: c["anomaly"].update(radius=64), "'anomaly.radius': 64.0 px is too large"),
        (lambda c: c["grid"]["sigma"].update(start=-0.5), "'grid.sigma': sigma must be >= 0"),
        (lambda c: c["grid"]["intensity"].update(stop=1.5), "'grid.intensity': start/stop"),
        (lambda c: c["slices"].update(test=[128]), "'slices.test': slice 128 is outside"),
        (lambda c: c["slices"].update(train=[70, 60]), "'slices.train'"),
        (lambda c: c["models"]["ae128"].update(arch="unet"), "'models.ae128.arch': unknown"),
        (lambda c: c["evaluation"].update(matched_models=["x"]), "'evaluation.matched_models'"),
        (lambda c: c["evaluation"].update(paper_models=["x"]), "'evaluation.paper_models'"),
        (lambda c: c["lesion_figures"].update(fig7=["mood"]), "'datasets.mood.labels' is required"),
        (lambda c: c["datasets"]["mood"].pop("path"), "'datasets.mood.path' is required"),
        (
            lambda c: c["training"].update(val_every=0, selection="best_val_ap"),
            "'training.val_every': 0 \\(never validate\\)",
        ),
    ],
)
def test_cross_key_checks_name_the_key(config, edit, message):
    edit(config)
    with pytest.raises(ConfigError, match=message):
        check_config(config, ARCHS)


def test_the_colormap_is_checked_in_the_job_not_at_parse(config, monkeypatch):
    """The data and training envs have no matplotlib; their jobs parse the workflow too (CI's
    envs stage failed on this). So the parse-time checks leave the colormap alone, and the
    check_setup job (checks.py, in an env with matplotlib) refuses a bad one."""
    import sys

    from residual_pitfalls.checks import _check_cmap

    config["figures"]["cmap"] = "no-such-map"
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
        check_config(config, ARCHS)
    with pytest.raises(ConfigError, match="'figures.cmap': 'no-such-map' is not a matplotlib"):
        _check_cmap(config["figures"]["cmap"])
    _check_cmap("coolwarm")


def _dry_run(tmp_path: Path, overlay: str) -> subprocess.CompletedProcess:
    """`snakemake -n all` on the tiny config plus `overlay` (YAML text); a start-up check costs ~2 s."""
    (tmp_path / "overlay.yaml").write_text(overlay)
    return run_snakemake(
        tmp_path, "-n", "all", "--configfile", str(TINY), str(tmp_path / "overlay.yaml")
    )


def _start_up_error(tmp_path: Path, overlay: str) -> str:
    """The output of a dry run that must stop at start-up (before any job is planned)."""
    result = _dry_run(tmp_path, overlay)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "Building DAG" not in output, output[-2000:]
    return output


def test_workflow_stops_on_a_typo_naming_the_key(tmp_path):
    result = _dry_run(tmp_path, "anomaly: {raduis: 5}\n")
    assert result.returncode != 0
    assert "'raduis' was unexpected" in result.stdout + result.stderr


def test_workflow_stops_on_a_missing_data_folder_naming_it(tmp_path):
    missing = tmp_path / "no_such_scans"
    result = _dry_run(
        tmp_path, f"dataset: mine\ndatasets: {{mine: {{source: nifti, path: '{missing}'}}}}\n"
    )
    assert result.returncode != 0
    assert f"data folder '{missing}' does not exist" in result.stdout + result.stderr


# --- non-finite numbers (issue 11.5) -----------------------------------------------------------


def test_check_finite_walks_nested_mappings_and_lists():
    check_finite({"a": {"b": [1.0, 2, None, "x"]}, "c": True})
    with pytest.raises(ConfigError, match=r"'a\.b\[1\]': inf is not a finite number"):
        check_finite({"a": {"b": [1.0, float("inf")]}})
    with pytest.raises(ConfigError, match="'c': nan is not a finite number"):
        check_finite({"c": float("nan")})


@pytest.mark.parametrize(
    ("overlay", "key"),
    [
        # today: accepted, and four of five sigma columns vanish from Fig. 1(a)
        ("grid: {sigma: {start: .nan}}", "grid.sigma.start"),
        # today: fails deep inside a job without naming the key
        ("anomaly: {radius: .nan}", "anomaly.radius"),
        ("training: {lr: .inf}", "training.lr"),
        ("figures: {font_size: -.inf}", "figures.font_size"),
    ],
)
def test_non_finite_numbers_stop_the_start_up_naming_the_key(tmp_path, overlay, key):
    output = _start_up_error(tmp_path, overlay + "\n")
    assert f"config key '{key}':" in output
    assert "is not a finite number" in output


# --- short schema errors (issue 8.12) ----------------------------------------------------------


def _first_error(config: dict) -> str:
    schema = yaml.safe_load(SCHEMA.read_text())
    error = next(iter(Draft202012Validator(schema).iter_errors(config)))
    return describe_schema_error(error)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c.update(zzzz=1),
            "config key 'zzzz': unknown key ('zzzz' was unexpected). Valid keys at the top level: "
            "anomaly, dataset, datasets, evaluation, figures, grid,",
        ),
        (
            lambda c: c["models"]["ae128"].update(archh="x"),
            "config key 'models.ae128.archh': unknown key ('archh' was unexpected). Did you mean "
            "'arch'? Valid keys under 'models.ae128': arch, checkpoint, class_path, hparams, label.",
        ),
        (
            lambda c: c["slices"].update(test=[64, 64]),
            "config key 'slices.test': [64, 64] has non-unique elements (slice indices (each once",
        ),
        (
            lambda c: c["datasets"]["mood"].update(normalisation="zscore"),
            "config key 'datasets.mood.normalisation': 'zscore' is not one of",
        ),
    ],
)
def test_describe_schema_error(config, edit, expected):
    edit(config)
    message = _first_error(config)
    assert message.startswith(expected), message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        # top level: Snakemake printed the whole schema and config, about 400 lines
        (
            "trainng: {steps: 3}",
            "config key 'trainng': unknown key ('trainng' was unexpected). Did you mean "
            "'training'? Valid keys at the top level: anomaly, dataset, datasets,",
        ),
        # nested: 19 lines with the subschema and the section
        (
            "training: {stpes: 3}",
            "config key 'training.stpes': unknown key ('stpes' was unexpected). Did you mean "
            "'steps'? Valid keys under 'training': batch_size, bf16, checkpoint_every,",
        ),
        (
            "training: {steps: many}",
            "config key 'training.steps': 'many' is not of type 'integer'",
        ),
    ],
)
def test_schema_errors_are_short_and_name_the_key(tmp_path, overlay, expected):
    output = _start_up_error(tmp_path, overlay + "\n")
    assert expected in output
    assert len(output.splitlines()) <= 6, output
    assert "Failed validating" not in output and "On instance" not in output


# --- names that become wildcards, file and rule names (issue 11.7) -----------------------------


@pytest.mark.parametrize(
    ("overlay", "key", "what"),
    [
        # today: MissingInputException (the name goes into a wildcard regex unescaped)
        ("models: {unet++: {arch: autoencoder}}", "models.unet++", "model names"),
        ("models: {ae.v2: {arch: autoencoder}}", "models.ae.v2", "model names"),
        ("datasets: {my data: {source: synthetic, subjects: 10}}", "datasets.my data", "data set"),
    ],
)
def test_names_outside_the_allowed_pattern_stop_the_start_up(tmp_path, overlay, key, what):
    output = _start_up_error(tmp_path, overlay + "\n")
    assert f"config key '{key}':" in output
    assert "does not match '^[A-Za-z0-9_-]+$'" in output
    assert what in output


def test_names_with_dashes_and_underscores_reach_their_files(tmp_path):
    overlay = tmp_path / "names.yaml"
    overlay.write_text("models: {my-ae_2: {arch: autoencoder, hparams: {latent_dim: 8}}}\n")
    target = "results/metrics/exp3_my-ae_2_anomalous_bn-eval.parquet"
    result = run_snakemake(tmp_path, "-n", target, "--configfile", str(TINY), str(overlay))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "train_model" in result.stdout


# --- bounded styling values (issue 11.8) -------------------------------------------------------


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        # today: MemoryError: std::bad_alloc in the first figure job
        ("figures: {dpi: 20000}", "'figures.dpi': 20000 is greater than the maximum of 600"),
        ("figures: {font_size: 500}", "'figures.font_size': 500 is greater than the maximum of 40"),
        ("figures: {bootstrap: 100000000}", "'figures.bootstrap': 100000000 is greater than"),
    ],
)
def test_styling_values_are_bounded_at_start_up(tmp_path, overlay, message):
    assert f"config key {message}" in _start_up_error(tmp_path, overlay + "\n")


# --- schema gaps (issue 8.10) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        # a mask has no label values (it reused the labels' definition)
        (
            "datasets: {mood: {mask: {replace: [_t2, _mask], anomaly_values: [1]}}}",
            "config key 'datasets.mood.mask.anomaly_values': unknown key",
        ),
        # exactly one way to find the companion files
        ("datasets: {mood: {labels: {}}}", "config key 'datasets.mood.labels': {} is not valid"),
        # synthetic-only keys on a nifti entry, and NIfTI-only keys on a synthetic one
        (
            "datasets: {mood: {subjects: 3}}",
            "config key 'datasets.mood.subjects': unknown key ('subjects' was unexpected). "
            "Valid keys under 'datasets.mood' for source: nifti: background_threshold, download, labels,",
        ),
        (
            "datasets: {synthetic: {normalisation: percentile}}",
            "config key 'datasets.synthetic.normalisation': unknown key",
        ),
        ("datasets: {synthetic: {mask: {manifest: m.csv}}}", "'datasets.synthetic.mask'"),
        # 0 = never validate works, but not with a selection by validation
        (
            "training: {val_every: 0, selection: best_val_loss}",
            "config key 'training.val_every': 0 (never validate) cannot pick a model",
        ),
        (
            "split: {val_fraction: 0}",
            "config key 'training.val_every': 2 validates, but split.val_fraction is 0",
        ),
    ],
)
def test_schema_gaps_are_closed_at_start_up(tmp_path, overlay, expected):
    assert expected in _start_up_error(tmp_path, overlay + "\n")


def test_never_validating_is_a_valid_setting(tmp_path):
    # (without validation slices no model has healthy residuals for the zoo's residual_zscore)
    overlay = (
        "training: {val_every: 0}\nsplit: {val_fraction: 0}\nscores: {residual_zscore: false}\n"
    )
    result = _dry_run(tmp_path, overlay)
    assert result.returncode == 0, result.stderr[-2000:]


def test_defaults_belong_to_the_source_that_uses_them(config):
    """Only the NIfTI entry gets NIfTI defaults (provenance.yaml showed them under synthetic)."""
    validate(config, str(SCHEMA))
    assert config["datasets"]["mood"]["resize"] == "pad"
    assert config["datasets"]["mood"]["normalisation"] == "none"  # the user's value stays
    assert not {"pattern", "normalisation", "reorient", "resize"} & set(
        config["datasets"]["synthetic"]
    )


# --- the default workflow profile: after Ctrl-C the same command works (issue 11) ----------------

DEFAULT_PROFILE = REPO / "profiles" / "default" / "config.yaml"


def test_default_profile_leaves_the_slurm_profile_in_force():
    """A workflow profile overrides a --profile key by key: it may only repeat profiles/slurm or set
    what profiles/slurm leaves alone (the quiet terminal)."""
    default = yaml.safe_load(DEFAULT_PROFILE.read_text())
    slurm = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert default == {"rerun-incomplete": True, "quiet": ["rules", "host"]}
    assert all(slurm.get(key, value) == value for key, value in default.items())


@pytest.mark.workflow
def test_the_same_command_reruns_what_ctrl_c_left_half_written(tmp_path):
    (tmp_path / "more.yaml").write_text("datasets: {synthetic: {subjects: 16}}\n")
    target = "results/data/volumes/sub-0000.nii.gz"
    args = (target, "--configfile", str(TINY), str(tmp_path / "more.yaml"), "--cores", "2")
    volumes = tmp_path / "results" / "data" / "volumes"
    # the README's commands run from the repository root
    first = subprocess.Popen(
        snakemake_command(tmp_path, *args),
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while (
        first.poll() is None and time.monotonic() < deadline and not any(volumes.glob("*.nii.gz"))
    ):
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    output = first.communicate(timeout=120)[0]
    assert "Using workflow specific profile profiles/default" in output
    assert first.returncode != 0, "the job finished before Ctrl-C"
    left = sorted(volumes.glob("*.nii.gz"))
    assert 0 < len(left) < 16 and any((tmp_path / ".snakemake" / "incomplete").iterdir())

    # without the profile Snakemake refuses, as it did before it shipped
    refused = run_snakemake(tmp_path, "-n", *args, "--workflow-profile", "none")
    assert refused.returncode != 0
    assert "IncompleteFilesException" in refused.stdout + refused.stderr

    again = subprocess.run(
        snakemake_command(tmp_path, *args), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(volumes.glob("*.nii.gz"))) == 16
    for volume in left:  # the half-written files were rebuilt
        assert nib.load(volume).get_fdata().shape == (64, 64, 64)
    assert not any((tmp_path / ".snakemake" / "incomplete").iterdir())


def test_the_schema_offers_exactly_the_batchnorm_modes_the_code_knows():
    """The schema is data and cannot import architectures.BATCHNORM_MODES: compare them."""
    from residual_pitfalls.architectures import BATCHNORM_MODES

    schema = yaml.safe_load(SCHEMA.read_text())
    entry = schema["properties"]["evaluation"]["properties"]["batchnorm"]
    assert tuple(entry["enum"]) == BATCHNORM_MODES
