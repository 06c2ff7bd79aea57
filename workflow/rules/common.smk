# Shared helpers: config checks, the file lists the DAG is built from, and output names.
import re
import sys
from pathlib import Path

SRC = os.path.join(workflow.basedir, "src")
# Every job (local, conda env, SLURM) imports the package from this checkout, so an environment
# needs only the third-party pins of envs/*.yaml.
sys.path.insert(0, SRC)
_paths = dict(os.environ).get("PYTHONPATH")
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (SRC, _paths) if p))

from residual_pitfalls import layout
from residual_pitfalls.architectures import BATCHNORM_MODES
from residual_pitfalls.config import ConfigError, check_all
from residual_pitfalls.layout import download_targets, needs_download
from residual_pitfalls.scorers.entries import check_entries, zoo_entries
from residual_pitfalls.plugins import plugin_source

SETUP_OK = "results/checks/setup.ok"  # the check_setup job (checks.smk)
SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
# Every start-up check (residual-pitfalls check-config runs the same function): NaN, schema
# (types, ranges, unknown keys; fills in its defaults), cross-key checks, the split of the data
# set's volumes (computed once here: a missing folder or too few volumes stop the run with an
# error naming the folder or the counts), the scorer zoo's entries, each model's checkpoint file.
# The code a config names (user scorers, model classes, hparams) is checked by the check_setup
# job, so that parsing imports no torch, numba or matplotlib.
try:
    SPLIT = check_all(config, SCHEMA)
except ConfigError as error:  # one short message that names the key, not the checks' frames
    raise ConfigError(str(error)) from None

DATASET = config["datasets"][config["dataset"]]


wildcard_constraints:
    split="train|val|test",
    variant="raw|histeq",
    mode="healthy|anomalous",
    batchnorm="|".join(BATCHNORM_MODES),
    model="|".join(config["models"]) or "^$",
    anomaly="|".join(config["anomaly"]["textures"]) or "^$",


def dataset_files(name):
    return layout.dataset_files(config, name)


def companion_files(name, kind, images=None):
    return layout.companion_files(config, name, kind, images)


def split_inputs(wildcards):
    volumes = [str(f) for f in SPLIT[wildcards.split]]
    masks = companion_files(config["dataset"], "mask", volumes)
    return {"volumes": volumes, "masks": masks}


def slice_indices(split):
    if split == "test":
        return list(config["slices"]["test"])
    return list(range(*config["slices"]["train"]))


def load_options(entry):
    """How a volume becomes a (size^3, float32 in [0, 1]) array: the data set's loading options."""
    if entry["source"] in ("synthetic", "brainweb"):
        return {"size": config["image_size"], "normalisation": "none", "reorient": False}
    return {"size": config["image_size"], "resize": entry["resize"], **volume_options(entry)}


def volume_options(entry):
    """How a NIfTI data set's voxels become brain intensities in [0, 1] (no resizing)."""
    return {
        "normalisation": entry["normalisation"],
        "percentiles": entry["percentiles"],
        "reorient": entry["reorient"],
        "background_threshold": entry["background_threshold"],
    }




def model_checkpoint(wildcards):
    spec = config["models"][wildcards.model]
    return spec.get("checkpoint", f"results/models/{wildcards.model}/model.pt")


def model_source(wildcards):
    """A bring-your-own model class's module file: an input, so editing the class reruns the jobs
    that run the model (and only those)."""
    class_path = config["models"][wildcards.model].get("class_path")
    source = plugin_source(class_path) if class_path else None
    return [source] if source else []


def paper_models():
    """The models the paper's Figs. 3-4 draw: evaluation.paper_models (null: every model)."""
    names = config["evaluation"].get("paper_models")
    return list(config["models"]) if names is None else list(names)


def modern_models():
    """results/fig3_modern: every model outside evaluation.paper_models (the DAE, the DDPM, yours),
    then the evaluation.matched_models (the paper's AE latent 128 and VQ-VAE-2) beside them."""
    others = [m for m in config["models"] if m not in paper_models()]
    return others + [m for m in config["evaluation"]["matched_models"] if m not in others]

# Every file made from a model's forward passes names the BatchNorm mode it was evaluated in, one
# scheme whatever the configured mode: results/metrics/exp3_<model>_<mode>_bn-<batchnorm>[_<what>].
# The configured mode (evaluation.batchnorm) is what the paper's figures and the zoo use; the other
# mode is computed only for the BatchNorm comparison (results/fig3a_per_image_bn).
BATCHNORM = config["evaluation"]["batchnorm"]
OTHER_BATCHNORM = {"eval": "per_image", "per_image": "eval"}[BATCHNORM]


def evaluated_model(batchnorm=BATCHNORM):
    """The params of a job that reconstructs with a configured model, in BatchNorm mode
    `batchnorm`: the keywords of models.checks.evaluation_reconstructor."""
    return lambda wc: {
        "spec": config["models"][wc.model],
        "name": wc.model,
        "batch_size": config["evaluation"]["batch_size"],
        "batchnorm": batchnorm,
    }


def exp3_file(model, mode, batchnorm=BATCHNORM, what=""):
    """One model's Exp 3 file (curve .parquet; `what`: e.g. "_reconstructions.npy")."""
    return f"results/metrics/exp3_{model}_{mode}_bn-{batchnorm}{what or '.parquet'}"


def exp3_curves(mode, batchnorm=BATCHNORM, models=None):
    """The Exp 3 curves of `models` (default: every configured model) in `mode`, BatchNorm in
    `batchnorm`."""
    return [exp3_file(m, mode, batchnorm) for m in (config["models"] if models is None else models)]


def model_label(name):
    return config["models"][name].get("label", name)


def grid(key):
    return config["grid"][key]


def all_figures():
    figures = ["fig1a", "fig1b", "fig2", "fig5", "fig6a", "fig6b"]
    if config["models"]:
        figures += ["fig3a", "fig3b", "fig4a", "fig4b", "fig3a_per_image_bn"]
    if set(config["models"]) - set(paper_models()):
        figures.append("fig3_modern")
    figures += sorted(config["lesion_figures"])
    return [f"results/{f}.pdf" for f in figures]


def test_stack(wildcards):
    """Exp 1 runs on the test slices as they are (raw) or histogram-equalised (App. C)."""
    return "results/data/test_histeq.npy" if wildcards.variant == "histeq" else "results/data/test.npy"


# The report's menu: categories and subcategories sort alphabetically there, so the numbers keep
# the paper's order; one subcategory per figure shows it with its caption.
REPORT_SECTIONS = {
    "fig1a": ("1 The paper", "Fig. 1(a) Exp. 1: intensity x blur"),
    "fig1b": ("1 The paper", "Fig. 1(b) brain intensity histogram"),
    "fig2": ("1 The paper", "Fig. 2 Exp. 2: texture anomalies"),
    "fig3a": ("1 The paper", "Fig. 3(a) Exp. 3.1: healthy reconstruction"),
    "fig3a_per_image_bn": ("1 The paper", "Fig. 3(a) with per-image BatchNorm"),
    "fig3b": ("1 The paper", "Fig. 3(b) Exp. 3.2: anomalous reconstruction"),
    "fig4a": ("1 The paper", "Fig. 4(a) example anomaly maps"),
    "fig4b": ("1 The paper", "Fig. 4(b) reconstruction error vs AP"),
    "fig5": ("1 The paper", "Fig. 5 (App. A) anomaly types"),
    "fig6a": ("1 The paper", "Fig. 6(a) (App. C) equalised Exp. 1"),
    "fig6b": ("1 The paper", "Fig. 6(b) (App. C) equalised histogram"),
    "fig7": ("1 The paper", "Fig. 7 (App. D) lesion histograms"),
    "fig8": ("1 The paper", "Fig. 8 (App. D) lesion histograms"),
    "scores_summary": ("2 Scorer zoo", "1 Summary table"),
    "scores_exp1": ("2 Scorer zoo", "2 Exp. 1 per scorer"),
    "scores_blindspot": ("2 Scorer zoo", "3 Blind spot per scorer"),
    "scores_textures": ("2 Scorer zoo", "4 Exp. 2 per scorer"),
    "scores_exp3": ("2 Scorer zoo", "5 Exp. 3 per model"),
}


def report_section(name):
    category, subcategory = REPORT_SECTIONS.get(name, ("3 Other figures", name))
    return {"category": category, "subcategory": subcategory}


def figure_outputs(name):
    """A figure is its PDF, a PNG (shown in the report with its caption) and the CSV it plots."""
    return {
        "pdf": f"results/{name}.pdf",
        "png": report(f"results/{name}.png", caption=f"../report/{name}.rst", **report_section(name)),
        "csv": f"results/{name}.csv",
    }




def provenance_inputs():
    """What results/provenance.yaml describes: every figure's table, the data stacks, the models.
    As its inputs they make it rerun whenever one of them is rebuilt, so it names that run's code."""
    from types import SimpleNamespace

    trained = [m for m, spec in config["models"].items() if "checkpoint" not in spec]
    splits = ["train", "val", "test"] if trained else ["test"]
    return {
        "figures": [
            f.removesuffix(".pdf") + ".csv" if f.endswith(".pdf") else f
            for f in all_figures() + all_scores() + all_lesions()
        ],
        "data": [f"results/data/{split}.npy" for split in splits],
        "models": [model_checkpoint(SimpleNamespace(model=m)) for m in config["models"]],
    }
# The scorer zoo (rules in scores.smk).
# `scores: {name: false}` leaves a scorer out (an overlay cannot delete a key of config.yaml).
SCORE_CONFIG = zoo_entries(config.get("scores"))
SCORERS = check_entries(SCORE_CONFIG, image_size=config["image_size"])  # name -> checked entry


wildcard_constraints:
    score="|".join(re.escape(s) for s in SCORERS) or "^$",


def all_scores():
    """The zoo's targets for `all` (none when `scores` is empty)."""
    if not SCORERS:
        return []
    targets = [f"results/scores_{name}.pdf" for name in ("exp1", "blindspot")]
    targets.append("results/scores_summary.csv")
    if config["anomaly"]["textures"]:
        targets.append("results/scores_textures.pdf")
    if config["models"]:
        targets.append("results/scores_exp3.pdf")
    return targets


def blur_stats(wildcards):
    """Exp 1/2: the per-sigma statistics of the blurred training slices, if the scorer needs them."""
    needed = SCORERS[wildcards.score].needs_stats
    return ["results/metrics/scores/healthy_blur.npz"] if needed else []


def model_stats(wildcards):
    """Exp 3: the model's healthy statistics, if any scorer needs them."""
    if any(s.needs_stats for s in SCORERS.values()):
        return [f"results/metrics/scores/healthy_{wildcards.model}.npz"]
    return []


def _scorer_source(name):
    function = SCORE_CONFIG[name].get("function") if SCORE_CONFIG[name] else None
    return plugin_source(function) if function else None


def scorer_source(wildcards):
    """A bring-your-own scorer's module file: an input of its own jobs, so editing the function
    reruns exactly them (Exp 3 scores every scorer in one job per (model, mode): all_scorer_sources)."""
    source = _scorer_source(wildcards.score)
    return [source] if source else []


def all_scorer_sources(wildcards):
    return sorted({s for s in map(_scorer_source, SCORE_CONFIG) if s})


def score_entry(wildcards):
    """The scorer's config entry: a param, so changing it reruns only that scorer's jobs."""
    return SCORE_CONFIG[wildcards.score]
