# Exp 4 helpers: the lesion sets, their input files and loading options (rules in lesions.smk).
from residual_pitfalls.config import EMBEDDED_LESION_SET as EMBEDDED

LESIONS = config["lesions"]
LESION_SETS = list(LESIONS["sets"]) if config["models"] and SCORERS else []
EMBEDDED_DIR = f"results/data/lesions/{EMBEDDED}"
EMBEDDED_VOLUMES = SPLIT["test"][: LESIONS["embedded"]["volumes"]]


wildcard_constraints:
    lesion_set="|".join(re.escape(s) for s in LESION_SETS) or "^$",


def embedded_files(kind):
    suffix = "_label.nii.gz" if kind == "labels" else ".nii.gz"
    return [f"{EMBEDDED_DIR}/vol-{i:04d}{suffix}" for i in range(len(EMBEDDED_VOLUMES))]


def lesion_set_inputs(wildcards):
    if wildcards.lesion_set == EMBEDDED:
        return {"images": embedded_files("images"), "labels": embedded_files("labels")}
    name = wildcards.lesion_set
    return {
        "images": dataset_files(name),
        "labels": companion_files(name, "labels"),
        "masks": companion_files(name, "mask"),
    }


def lesion_set_load(name):
    """How the set's volumes become (image_size^3, [0, 1]) arrays, and its label values."""
    if name == EMBEDDED:
        return {"size": config["image_size"], "normalisation": "none", "reorient": False}, {}
    entry = config["datasets"][name]
    labels = {k: entry["labels"][k] for k in ("anomaly_values", "ignore_values") if k in entry["labels"]}
    return load_options(entry), labels


def all_lesions():
    return [
        f"results/lesions_{s}_{kind}.pdf" for s in LESION_SETS for kind in ("metrics", "by_intensity")
    ]
