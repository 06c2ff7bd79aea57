"""SLURM execution: the user-facing profile, and the tiny DAG run through it on a real cluster.

The profile checks always run (they only read YAML). The cluster tests (marker ``slurm``) need a
running SLURM cluster and the executor plugin; `.ci/slurm/stage.sh` starts a single-node cluster,
sets ``RESIDUAL_PITFALLS_SLURM=up`` and runs this file with the plugin's virtual environment, so
there they cannot skip. Anywhere else they skip.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import snakemake_command, tiny_models

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
TINY = REPO / "config" / "tiny.yaml"
CLUSTER_ENV = "RESIDUAL_PITFALLS_SLURM"
GPU_RULES = ("train_model", "model_intensity_curve")
# The plugin refuses these in slurm_extra (it sets them itself from resources).
RESERVED_SBATCH = ("--gres", "--gpus", "--mem", "--time", "--partition", "--account", "--cpus")
# Whole tiny DAG under SLURM; the jobs are serialised on 2 cores. SIGINT, not SIGTERM, on timeout:
# snakemake's SLURM executor cancels its jobs only on SIGINT.
RUN_TIMEOUT_S = int(os.environ.get("RESIDUAL_PITFALLS_SLURM_TIMEOUT", "1500"))


def load_profile() -> dict:
    return yaml.safe_load(PROFILE.read_text())


# --- the profile (always) ---------------------------------------------------------------------


def test_profile_targets_the_slurm_executor_with_placeholders_to_set():
    profile = load_profile()
    assert profile["executor"] == "slurm"
    defaults = profile["default-resources"]
    for key in ("slurm_partition", "slurm_account"):
        assert "CHANGE-ME" in defaults[key], (key, defaults[key])
    assert defaults["mem_mb"] > 0 and defaults["runtime"] > 0
    assert profile["jobs"] >= 1 and profile["latency-wait"] >= 5 and profile["retries"] >= 1
    assert profile["rerun-incomplete"] is True
    assert profile["slurm-logdir"]


def test_profile_leaves_gpus_to_the_rules():
    profile = load_profile()
    # A global `resources: gpu` would throttle submissions; gres/gpus in slurm_extra is rejected
    # by the plugin.
    assert "resources" not in profile and "set-resources" not in profile
    extras = [str(v) for v in profile["default-resources"].values()]
    assert not any(flag in extra for extra in extras for flag in RESERVED_SBATCH), extras
    rules = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    for rule in GPU_RULES:
        body = rules.split(f"rule {rule}:", 1)[1].split("\nrule ", 1)[0]
        assert re.search(r"^\s+gpu=1,$", body, flags=re.M), f"rule {rule} must declare gpu=1"


def test_profile_keys_are_snakemake_options():
    """Every key is a snakemake (or SLURM-plugin) command-line option, so none is ignored."""
    from snakemake.cli import get_argument_parser

    options = {s.lstrip("-") for a in get_argument_parser()._actions for s in a.option_strings}
    unknown = {k for k in load_profile() if k not in options and not k.startswith("slurm-")}
    assert not unknown, f"{PROFILE}: not snakemake options: {sorted(unknown)}"


# --- the cluster (marker slurm) ---------------------------------------------------------------


def run(cmd: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def cluster() -> dict:
    """Facts of the running cluster: its default partition and the CPUs of its node."""
    if os.environ.get(CLUSTER_ENV) != "up":
        pytest.skip(f"no SLURM cluster: .ci/slurm/stage.sh starts one and sets {CLUSTER_ENV}=up")
    # Told that a cluster is up: from here on every problem is a failure, not a skip.
    assert importlib.util.find_spec("snakemake_executor_plugin_slurm"), (
        f"{sys.executable} lacks snakemake-executor-plugin-slurm; run with .ci/.venv-slurm/bin/python"
    )
    for tool in ("sbatch", "squeue", "scontrol", "sinfo"):
        assert shutil.which(tool), f"{tool} not on PATH"
    info = run(["sinfo", "--noheader", "--format=%P|%c|%G|%T"])
    assert info.returncode == 0, f"sinfo failed: {info.stderr}"
    default = [line for line in info.stdout.splitlines() if line.split("|")[0].endswith("*")]
    assert default, f"no default partition in sinfo output: {info.stdout!r}"
    partition, cpus, gres, state = default[0].split("|")
    assert state in ("idle", "mixed"), f"node not ready: {info.stdout!r}"
    return {"partition": partition.rstrip("*"), "cpus": int(cpus), "gres": gres}


def ci_profile(cluster: dict, folder: Path) -> Path:
    """profiles/slurm with the placeholders filled in for the test cluster.

    Changed: the partition; no account (no accounting database); `squeue` status with the first poll
    after 2 s (no slurmdbd, and the default 40 s would dominate); threads capped at the node's CPUs
    (EnforcePartLimits rejects `threads: 8` on a 2-CPU node); no retries (a failing job fails at
    once); SLURM logs kept for inspection. Everything else is the user's profile as shipped.
    """
    profile = load_profile()
    profile["default-resources"]["slurm_partition"] = cluster["partition"]
    del profile["default-resources"]["slurm_account"]
    profile.update(
        {
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "max-threads": cluster["cpus"],
            "retries": 0,
            "slurm-keep-successful-logs": True,
            "verbose": True,  # logs every sbatch call
        }
    )
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def snakemake_slurm(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run snakemake (this interpreter, which has the plugin) with a timeout that sends SIGINT."""
    cmd = [
        "timeout",
        "-s",
        "INT",
        "-k",
        "120",
        str(RUN_TIMEOUT_S),
        # --quiet host replaces profiles/default's quiet: the per-job blocks name the local rules
        *snakemake_command(workdir, *args, "--quiet", "host"),
    ]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(workdir / ".numba"), "MPLBACKEND": "Agg"}
    result = run(cmd, timeout=RUN_TIMEOUT_S + 180, env=env)
    (workdir / f"snakemake-{len(list(workdir.glob('snakemake-*.log')))}.log").write_text(
        result.stdout + result.stderr
    )
    return result


def submissions(log: str) -> dict[str, dict]:
    """{slurm job id: {"rule", "call"}} from snakemake's verbose log.

    Calls and returned ids are logged by concurrent submissions, so they are paired through the
    SLURM log path: the call's `--output .../%j.log` with %j replaced is the path logged with the id.
    """
    calls = re.findall(r"^sbatch call: (sbatch .*)$", log, flags=re.M)
    logged = dict(
        re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.$", log, flags=re.M)
    )
    assert len(calls) == len(logged), (len(calls), len(logged))
    by_path = {path: jobid for jobid, path in logged.items()}
    out = {}
    for call in calls:
        output = re.search(r"--output '?([^' ]+)'?", call)
        rule = re.search(r"--comment '?rule_(\w+?)(?:_wildcards_|'|\s)", call)
        assert output and rule, call
        jobid = next(j for path, j in by_path.items() if output[1].replace("%j", j) == path)
        out[jobid] = {"rule": rule[1], "call": call}
    assert len(out) == len(calls), "two calls paired with one job id"
    return out


def cluster_jobs(ids: list[str]) -> dict[str, dict]:
    """What SLURM itself recorded: {job id: {"state", "comment", "tres_per_job"}}."""
    result = run(
        [
            "squeue",
            "--states=all",
            "--noheader",
            "--jobs=" + ",".join(ids),
            "--Format=JobID:|,State:|,Comment:|,tres-per-job:",
        ]
    )
    assert result.returncode == 0, result.stderr
    out = {}
    for line in result.stdout.splitlines():
        jobid, state, comment, tres = (f.strip() for f in line.split("|"))
        out[jobid] = {"state": state, "comment": comment, "tres_per_job": tres}
    return out


def local_and_slurm_rules(log: str) -> tuple[set[str], set[str]]:
    local = set(re.findall(r"^localrule (\w+):$", log, flags=re.M))
    remote = set(re.findall(r"^rule (\w+):$", log, flags=re.M))
    return local, remote


@pytest.fixture(scope="module")
def tiny_run(cluster, tmp_path_factory) -> dict:
    """The whole tiny DAG through the SLURM profile (once per module)."""
    root = tmp_path_factory.mktemp("slurm")
    profile = ci_profile(cluster, root / "profile")
    workdir = root / "run"
    workdir.mkdir()
    result = snakemake_slurm(workdir, "all", "--configfile", str(TINY), "--profile", str(profile))
    log = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"snakemake under SLURM failed (rc {result.returncode}):\n{log[-8000:]}"
    )
    return {"workdir": workdir, "log": log, "profile": profile}


@pytest.mark.slurm
def test_every_non_local_job_ran_as_a_completed_slurm_job(tiny_run):
    log = tiny_run["log"]
    submitted = submissions(log)
    local, remote = local_and_slurm_rules(log)
    assert {"all", "fig1a", "fig6a", "fig3b"} <= local, local
    assert {"synthesize_brains", "slices", "train_model", "model_intensity_curve"} <= remote
    assert not local & remote
    assert {s["rule"] for s in submitted.values()} == remote
    # one submission per job snakemake scheduled remotely
    assert len(submitted) == len(re.findall(r"^rule \w+:$", log, flags=re.M))
    seen = cluster_jobs(list(submitted))
    assert set(seen) == set(submitted), "squeue does not know every submitted job"
    for jobid, job in seen.items():
        assert job["state"] == "COMPLETED", (jobid, job)
        assert job["comment"].startswith(f"rule_{submitted[jobid]['rule']}"), (jobid, job)
    # SLURM's own log of every job (slurm-logdir; kept because the test profile says so)
    logs = {p.stem for p in (tiny_run["workdir"] / "logs" / "slurm").rglob("*.log")}
    assert set(submitted) <= logs, set(submitted) - logs


@pytest.mark.slurm
def test_gpu_rules_got_one_gpu_and_the_others_none(tiny_run):
    submitted = submissions(tiny_run["log"])
    seen = cluster_jobs(list(submitted))
    counts = {rule: 0 for rule in GPU_RULES}
    for jobid, sub in submitted.items():
        if sub["rule"] in GPU_RULES:
            counts[sub["rule"]] += 1
            assert "--gpus=1" in sub["call"], sub["call"]
            assert seen[jobid]["tres_per_job"] == "gres:gpu:1", (jobid, seen[jobid])
        else:
            assert "--gpus" not in sub["call"] and "--gres" not in sub["call"], sub["call"]
            assert seen[jobid]["tres_per_job"] in ("", "N/A"), (jobid, seen[jobid])
    n_models = len(tiny_models())
    assert counts == {"train_model": n_models, "model_intensity_curve": 2 * n_models}, counts


@pytest.mark.slurm
def test_outputs_exist(tiny_run):
    workdir = tiny_run["workdir"]
    figures = re.findall(r"^localrule (fig\w+):$", tiny_run["log"], flags=re.M)
    assert len(figures) >= 10, figures
    for fig in figures:
        for suffix in (".pdf", ".png", ".csv"):
            assert (workdir / "results" / f"{fig}{suffix}").stat().st_size > 0, (fig, suffix)
    models = list((workdir / "results" / "models").glob("*/model.pt"))
    assert models and all(m.stat().st_size > 0 for m in models)
    # benchmarks are written inside the SLURM jobs
    assert list((workdir / "results" / "benchmarks" / "train_model").glob("*.tsv"))


@pytest.mark.slurm
def test_cpu_only_override_layered_on_the_profile(tiny_run, tmp_path):
    """A user without GPUs: a small profile of their own sets gpu=0, the rest of the profile holds."""
    override = tmp_path / "cpu-only"
    override.mkdir()
    (override / "config.yaml").write_text(
        yaml.safe_dump({"set-resources": {rule: {"gpu": 0} for rule in GPU_RULES}})
    )
    workdir = tiny_run["workdir"]
    model = next((workdir / "results" / "models").glob("*/model.pt")).relative_to(workdir)
    result = snakemake_slurm(
        workdir,
        str(model),
        "--configfile",
        str(TINY),
        "--profile",
        str(tiny_run["profile"]),
        "--workflow-profile",
        str(override),
        "--forcerun",
        "train_model",
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    submitted = submissions(log)
    assert [s["rule"] for s in submitted.values()] == ["train_model"], submitted
    ((jobid, sub),) = submitted.items()
    assert "--gpus" not in sub["call"] and "--gres" not in sub["call"], sub["call"]
    # the user's profile still applies: partition and the rule's own memory
    assert re.search(r"-p '?[\w-]+'?", sub["call"]) and "--mem 8000" in sub["call"], sub["call"]
    job = cluster_jobs([jobid])[jobid]
    assert job["state"] == "COMPLETED" and job["tres_per_job"] in ("", "N/A"), job
