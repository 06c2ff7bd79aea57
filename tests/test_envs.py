"""The per-rule environments envs/*.yaml: pinned, in sync with pyproject.toml, and sufficient.

Always: every env file parses, pins every pip package with ``==`` to the version pyproject.toml pins,
and every rule that runs code names an existing env file.

Marker ``envs`` (run by `.ci/envs.sh`, which sets ``RESIDUAL_PITFALLS_ENVS=build``): for each env file
a fresh virtual environment without the system's packages gets exactly its pins (plus the pinned
snakemake as the runner) and runs jobs of that env's rules on the tiny config, restricted with
``--allowed-rules`` to the rules of that env, with inputs prepared beforehand. No conda is needed:
Snakemake runs a `script:` rule with its own interpreter when no conda env is in use, so
``<venv>/bin/python -m snakemake`` runs the rule's script with the venv's packages only; the
package itself reaches the jobs through the PYTHONPATH that workflow/rules/common.smk sets.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from helpers import snakemake_command

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "envs"
RULES = REPO / "workflow" / "rules"
TINY = REPO / "config" / "tiny.yaml"
ENVS_ENV = "RESIDUAL_PITFALLS_ENVS"
VENVS = Path(os.environ.get("RESIDUAL_PITFALLS_VENVS", REPO / ".ci" / ".venvs"))
# Conda-level entries an env may have besides its pip list: the interpreter and pip itself.
CONDA_ENTRY = re.compile(r"^(python=\d+\.\d+|pip)$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")
# A rule block starts at `rule name:`, an anonymous `rule:` (name given inside) or `use rule`.
RULE_START = re.compile(
    r"^\s*(?:rule(?:\s+(\w+))?\s*:|checkpoint\s+(\w+)\s*:|use rule .* as (\w+))", flags=re.M
)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_pins() -> dict[str, str]:
    """{canonical name: version} of every `==` pin in pyproject.toml (dependencies and extras)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    pins = {}
    for spec in specs:
        match = PIN.match(spec.replace(" ", ""))
        assert match, f"pyproject.toml: {spec!r} is not pinned with =="
        pins[canonical(match[1])] = match[2]
    return pins


def env_files() -> list[Path]:
    files = sorted(ENVS.glob("*.yaml"))
    assert files, f"no env files in {ENVS}"
    return files


def env_pins(path: Path) -> dict[str, str]:
    """{canonical name: version} of an env file's pip list; asserts the file's shape."""
    env = yaml.safe_load(path.read_text())
    assert isinstance(env, dict) and isinstance(env.get("dependencies"), list), (
        f"{path}: expected a mapping with a 'dependencies' list"
    )
    pip = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1 and pip[0], f"{path}: expected one non-empty 'pip:' list"
    conda = [d for d in env["dependencies"] if not isinstance(d, dict)]
    for entry in conda:
        assert CONDA_ENTRY.match(str(entry)), (
            f"{path}: conda entry {entry!r}; put packages in the pip list, pinned with =="
        )
    pins = {}
    for spec in pip[0]:
        match = PIN.match(str(spec))
        assert match, f"{path}: {spec!r} is not pinned as name==version"
        assert canonical(match[1]) not in pins, f"{path}: {match[1]} listed twice"
        pins[canonical(match[1])] = match[2]
    return pins


def rule_envs() -> dict[str, Path | None]:
    """{rule name: env file (resolved) or None} for every rule that runs a script, shell or run."""
    out: dict[str, Path | None] = {}
    for smk in sorted(RULES.glob("*.smk")):
        text = smk.read_text()
        starts = list(RULE_START.finditer(text))
        for i, start in enumerate(starts):
            body = text[start.end() : starts[i + 1].start() if i + 1 < len(starts) else len(text)]
            name = next((g for g in start.groups() if g), None)
            if name is None:  # `rule:` with `name: <expr>` inside
                found = re.search(r"name:\s*\n\s*(.+)", body)
                name = found[1].strip() if found else f"{smk.name}:{start.start()}"
            conda = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", body)
            if start.group(0).lstrip().startswith("use rule"):
                continue  # inherits the conda env of the rule it copies
            if re.search(r"^\s+(script|shell|run|notebook|wrapper):", body, flags=re.M):
                out[name] = (smk.parent / conda[1]).resolve() if conda else None
    return out


# --- fast: the files -------------------------------------------------------------------------


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.stem)
def test_env_file_pins_every_package_as_pyproject_does(path):
    pins = env_pins(path)
    project = pyproject_pins()
    missing = sorted(set(pins) - set(project))
    assert not missing, f"{path}: {missing} not pinned in pyproject.toml"
    differ = {n: (v, project[n]) for n, v in pins.items() if project[n] != v}
    assert not differ, f"{path}: pins differ from pyproject.toml (env, pyproject): {differ}"
    python = next(
        d for d in yaml.safe_load(path.read_text())["dependencies"] if str(d).startswith("python=")
    )
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=" + python.split("=", 1)[1], (path, python, requires)


def test_every_rule_that_runs_code_names_an_existing_env_file():
    envs = rule_envs()
    assert len(envs) >= 10, envs  # the parser found the rules
    missing = sorted(rule for rule, env in envs.items() if env is None)
    assert not missing, f"rules without conda: {missing}"
    for rule, env in envs.items():
        assert env.is_file(), f"rule {rule}: conda env {env} does not exist"
        assert env.parent == ENVS.resolve(), f"rule {rule}: env {env} is outside {ENVS}"
    used = {env.stem for env in envs.values()}
    assert used == {p.stem for p in env_files()}, f"unused env files: {used}"


def test_rule_parser_sees_the_rules_of_a_known_file():
    # A check on the helper itself: a parser that finds nothing would pass the test above.
    envs = rule_envs()
    assert envs["train_model"] == (ENVS / "torch.yaml").resolve()
    assert envs["slices"] == (ENVS / "data.yaml").resolve()
    assert envs["fig1a"] == (ENVS / "analysis.yaml").resolve()


# --- slow: a fresh venv per env runs that env's jobs -------------------------------------------

envs_only = pytest.mark.skipif(
    os.environ.get(ENVS_ENV) != "build",
    reason=f"builds virtual environments; .ci/envs.sh runs it with {ENVS_ENV}=build",
)


def first_model() -> str:
    """The first configured model with a trainable autoencoder (the cheapest to train)."""
    models = yaml.safe_load((REPO / "config.yaml").read_text())["models"]
    return next(m for m, spec in models.items() if spec.get("arch") == "autoencoder")


# env -> targets: every job they need beyond the prepared inputs must belong to that env.
TARGETS = {
    "data": lambda: [
        "results/data/test_histeq.npy",
        "results/data/anomaly_centres.csv",
        "results/data/train.npy",
    ],
    "analysis": lambda: ["results/fig1a.pdf"],
    "torch": lambda: [f"results/metrics/exp3_{first_model()}_healthy_bn-eval.parquet"],
}
# what the targets of each env need from rules of other envs, made by the system interpreter
PREPARED = [
    "results/data/train.npy",
    "results/data/val.npy",
    "results/data/test.npy",
    "results/data/anomaly_centres.csv",
]


def clean_env(workdir: Path) -> dict[str, str]:
    """The environment for a venv run: nothing that leaks the system's packages in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "VIRTUAL_ENV")
    }
    return {
        **env,
        "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "Agg",
        "NUMBA_CACHE_DIR": str(workdir / ".numba"),
    }


def snakemake(python: str, workdir: Path, *args: str, timeout: int = 900) -> str:
    cmd = snakemake_command(workdir, "--cores", "2", *args, python=python)
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=clean_env(workdir)
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{log[-6000:]}"
    return log


def build_venv(path: Path, requirements: list[str]) -> Path:
    """A fresh venv at `path` (no system site packages) with exactly `requirements`; pip's cache
    is reused. Rebuilt unless RESIDUAL_PITFALLS_ENVS_REUSE=1 and the requirements are unchanged."""
    stamp = path / "requirements.sha256"
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    python = path / "bin" / "python"
    if (
        os.environ.get("RESIDUAL_PITFALLS_ENVS_REUSE") == "1"
        and python.exists()
        and stamp.exists()
        and stamp.read_text() == digest
    ):
        return python
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    (path / ".gitignore").write_text("*\n")  # a venv that ignores itself
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *requirements],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, f"pip install into {path} failed:\n{result.stderr[-4000:]}"
    stamp.write_text(digest)
    return python


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A workdir holding the inputs the env runs start from, made with the system interpreter."""
    workdir = tmp_path_factory.mktemp("prepared")
    snakemake(sys.executable, workdir, *PREPARED, "--configfile", str(TINY))
    return workdir


@envs_only
@pytest.mark.envs
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_env_alone_runs_its_rules(name, prepared, tmp_path):
    env_file = ENVS / f"{name}.yaml"
    pins = env_pins(env_file)
    runner = pyproject_pins()["snakemake"]
    requirements = [f"{n}=={v}" for n, v in sorted(pins.items())] + [f"snakemake=={runner}"]
    python = str(build_venv(VENVS / name, requirements))

    # the venv has the pins and nothing of the system's site-packages
    probe = subprocess.run(
        [
            python,
            "-c",
            "import sys, importlib.metadata as m; print(sys.flags.no_user_site,"
            " any('site-packages' in p and sys.prefix not in p for p in sys.path));"
            "print(*(d.metadata['Name'] + '==' + d.version for d in m.distributions()), sep='\\n')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(tmp_path),
        check=True,
    )
    flags, *installed = probe.stdout.splitlines()
    assert flags.split()[1] == "False", f"{python} sees foreign site-packages"
    versions = {canonical(line.split("==")[0]): line.split("==")[1] for line in installed}
    for package, version in pins.items():
        assert versions.get(package, "").split("+")[0] == version, (package, versions.get(package))
    assert "residual-pitfalls" not in versions, "the package must come from PYTHONPATH, not pip"

    rules = sorted(r for r, env in rule_envs().items() if env == env_file.resolve())
    workdir = tmp_path / "run"
    if name == "data":
        workdir.mkdir()
    else:
        shutil.copytree(prepared, workdir, symlinks=True)  # copy2 keeps mtimes: inputs stay fresh
    targets = TARGETS[name]()
    log = snakemake(python, workdir, *targets, "--configfile", str(TINY), "--allowed-rules", *rules)
    # profiles/default's quiet terminal: one "Finished jobid: N (Rule: name)" line per job
    ran = set(re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)$", log, flags=re.M))
    assert ran and ran <= set(rules), (name, ran, rules)
    for target in targets:
        assert (workdir / target).stat().st_size > 0, target
