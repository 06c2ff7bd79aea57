# Data: volumes (synthesised, downloaded or the user's) -> sorted split -> float32 slice stacks.


rule synthesize_brains:
    output:
        expand(
            "results/data/volumes/sub-{i:04d}.nii.gz",
            i=range(DATASET["subjects"] if DATASET["source"] == "synthetic" else 0),
        ),
    params:
        seed=DATASET.get("seed", 0),
        target_mean=DATASET.get("target_mean"),
        size=config["image_size"],
        # Only the slab the experiments slice is rendered; the rest of each volume is 0.
        slab=[
            min(config["slices"]["train"][0], *config["slices"]["test"]),
            max(config["slices"]["train"][1], *(i + 1 for i in config["slices"]["test"])),
        ],
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "logs/synthesize_brains.log",
    benchmark:
        "results/benchmarks/synthesize_brains.tsv"
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/synthesize_brains.py"


for _name, _entry in config["datasets"].items():
    if needs_download(_entry):

        rule:
            name:
                f"download_{_name}"
            # compute nodes often have no internet: download on the submit host
            localrule: True
            output:
                download_targets(_entry),
            params:
                url=_entry["download"]["url"],
                sha256=_entry["download"]["sha256"],
                token_env=_entry["download"]["token_env"],
                archive=f"results/downloads/{_name}.archive",
                dest=_entry["path"],
                root=_entry["download"]["root"],
            log:
                f"logs/download_{_name}.log",
            conda:
                "../../envs/data.yaml"
            script:
                "../scripts/download.py"


if DATASET["source"] == "brainweb":

    rule brainweb_volumes:
        # downloads on the submit host too: compute nodes often have no internet
        localrule: True
        output:
            dataset_files(config["dataset"]),
        params:
            subjects=sorted(DATASET["subjects"]),
            models=DATASET.get("path", "data/brainweb"),
            url=DATASET.get("url"),
            sha256=DATASET.get("sha256", {}),
            seed=DATASET.get("seed", 0),
            augment=DATASET["augment"],
            size=config["image_size"],
        log:
            "logs/brainweb_volumes.log",
        conda:
            "../../envs/data.yaml"
        script:
            "../scripts/brainweb_volumes.py"


rule slices:
    input:
        unpack(split_inputs),
    output:
        stack="results/data/{split}.npy",
        provenance="results/data/{split}.csv",
    params:
        indices=lambda wc: slice_indices(wc.split),
        axis=config["slices"]["axis"],
        load=load_options(DATASET),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    log:
        "logs/slices/{split}.log",
    benchmark:
        "results/benchmarks/slices/{split}.tsv"
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/slices.py"


rule equalise_test_slices:
    input:
        "results/data/test.npy",
    output:
        "results/data/test_histeq.npy",
    params:
        bins=config["histograms"]["equalisation_bins"],
    log:
        "logs/equalise_test_slices.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/equalise.py"


rule anomaly_centres:
    input:
        "results/data/test.npy",
    output:
        "results/data/anomaly_centres.csv",
    params:
        seed=config["seed"],
        radius=config["anomaly"]["radius"],
    log:
        "logs/anomaly_centres.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/anomaly_centres.py"
