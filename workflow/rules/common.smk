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

from residual_pitfalls.config import validate_config
from residual_pitfalls.data.companions import drop_companions, pair_files
from residual_pitfalls.data.nifti import list_volumes
from residual_pitfalls.data.split import split_volumes

from residual_pitfalls.architectures import ARCHITECTURES
from residual_pitfalls.experiments.zoo import check_zoo, zoo_entries
from residual_pitfalls.scorers.registry import resolve_scorers

# NaN, schema (types, ranges, unknown keys; fills in its defaults), cross-key checks
validate_config(
    config,
    os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"),
    known_archs=ARCHITECTURES,
)

DATASET = config["datasets"][config["dataset"]]


wildcard_constraints:
    split="train|val|test",
    variant="raw|histeq",
    mode="healthy|anomalous",
    batchnorm="eval|per_image",
    model="|".join(config["models"]) or "^$",
    anomaly="|".join(config["anomaly"]["textures"]) or "^$",


def dataset_files(name):
    """Sorted volume files of a data set: synthesised, downloaded, or found in the user's folder."""
    entry = config["datasets"][name]
    if entry["source"] == "synthetic":
        return [f"results/data/volumes/sub-{i:04d}.nii.gz" for i in range(entry["subjects"])]
    if needs_download(entry):
        return download_targets(entry)
    files = list_volumes(Path(entry["path"]), entry["pattern"])
    # masks and labels stored next to the images match the pattern too: they are not images
    kinds = [(entry[k], c) for k, c in (("mask", "mask"), ("labels", "label")) if k in entry]
    return [
        str(p)
        for p in drop_companions(
            files,
            replace=[tuple(spec["replace"]) for spec, _ in kinds if "replace" in spec],
            manifests=[(Path(spec["manifest"]), c) for spec, c in kinds if "manifest" in spec],
        )
    ]


def needs_download(entry):
    return "download" in entry and not os.path.exists(entry["path"])


def download_targets(entry):
    """The volume files a download must provide (a list, or {format, count})."""
    volumes = entry["download"]["volumes"]
    if isinstance(volumes, dict):
        volumes = [volumes["format"].format(i) for i in range(volumes["count"])]
    return [os.path.join(entry["path"], v) for v in volumes]


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
    if entry["source"] == "synthetic":
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


def companion_files(name, kind, images=None):
    """Each image's label or mask file (kind "labels" / "mask"); [] when the data set has none."""
    entry = config["datasets"][name]
    spec = entry.get(kind)
    if spec is None:
        return []
    images = [Path(f) for f in (images if images is not None else dataset_files(name))]
    replace = tuple(spec["replace"]) if "replace" in spec else None
    manifest = Path(spec["manifest"]) if "manifest" in spec else None
    column = "label" if kind == "labels" else "mask"
    return [str(p) for p in pair_files(images, replace=replace, manifest=manifest, column=column)]


def model_checkpoint(wildcards):
    spec = config["models"][wildcards.model]
    return spec.get("checkpoint", f"results/models/{wildcards.model}/model.pt")


# Every file made from a model's forward passes names the BatchNorm mode it was evaluated in, one
# scheme whatever the configured mode: results/metrics/exp3_<model>_<mode>_bn-<batchnorm>[_<what>].
# The configured mode (evaluation.batchnorm) is what the paper's figures and the zoo use; the other
# mode is computed only for the BatchNorm comparison (results/fig3a_per_image_bn).
BATCHNORM = config["evaluation"]["batchnorm"]
OTHER_BATCHNORM = {"eval": "per_image", "per_image": "eval"}[BATCHNORM]


def exp3_file(model, mode, batchnorm=BATCHNORM, what=""):
    """One model's Exp 3 file (curve .parquet; `what`: e.g. "_reconstructions.npy")."""
    return f"results/metrics/exp3_{model}_{mode}_bn-{batchnorm}{what or '.parquet'}"


def exp3_curves(mode, batchnorm=BATCHNORM):
    """The Exp 3 curves of every configured model, in `mode`, BatchNorm in `batchnorm`."""
    return [exp3_file(m, mode, batchnorm) for m in config["models"]]


def model_label(name):
    return config["models"][name].get("label", name)


def grid(key):
    return config["grid"][key]


def all_figures():
    figures = ["fig1a", "fig1b", "fig2", "fig5", "fig6a", "fig6b"]
    if config["models"]:
        figures += ["fig3a", "fig3b", "fig4a", "fig4b", "fig3a_per_image_bn"]
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


# The sorted 60/40 (+ validation) split of the selected data set, computed once at start-up, so a
# missing folder or too few volumes stop the run with an error naming the folder or the counts.
SPLIT = split_volumes(
    [Path(f) for f in dataset_files(config["dataset"])],
    train_fraction=config["split"]["train_fraction"],
    val_fraction=config["split"]["val_fraction"],
)


def provenance_inputs():
    """What results/provenance.yaml describes: every figure's table, the data stacks, the models.
    As its inputs they make it rerun whenever one of them is rebuilt, so it names that run's code."""
    from types import SimpleNamespace

    trained = [m for m, spec in config["models"].items() if "checkpoint" not in spec]
    splits = ["train", "val", "test"] if trained else ["test"]
    return {
        "figures": [
            f.removesuffix(".pdf") + ".csv" if f.endswith(".pdf") else f
            for f in all_figures() + all_scores()
        ],
        "data": [f"results/data/{split}.npy" for split in splits],
        "models": [model_checkpoint(SimpleNamespace(model=m)) for m in config["models"]],
    }
# The scorer zoo (rules in scores.smk).
# `scores: {name: false}` leaves a scorer out (an overlay cannot delete a key of config.yaml).
SCORE_CONFIG = zoo_entries(config.get("scores"))
# Start-up checks: an unknown scorer, bad params or post-processing, a function that does not
# import or returns a bad map, a missing source of healthy statistics or an unknown metric stop
# the run here with an error naming the config key.
SCORERS = resolve_scorers(SCORE_CONFIG)
check_zoo(
    SCORERS,
    config["evaluation"]["metrics"],
    has_train=bool(SPLIT["train"]),
    has_val=bool(SPLIT["val"]),
    has_models=bool(config["models"]),
)


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


def score_entry(wildcards):
    """The scorer's config entry: a param, so changing it reruns only that scorer's jobs."""
    return SCORE_CONFIG[wildcards.score]
