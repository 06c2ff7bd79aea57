# Exp 4 (docs/lesions.md): every model and scorer on labelled lesion sets, lesion by lesion.
# A set is `embedded` (lesions painted into the first test volumes, written as NIfTI image + label
# like a user's labelled folder) or a `datasets` entry with `labels` (config/lesions.yaml).
# lesion_set reads and checks a set once (guard rails, 3-D components, the slices to score);
# lesion_scores reconstructs those slices once per model and scores them with every scorer.


include: "lesions_common.smk"


rule lesions_embedded:
    input:
        volumes=[str(f) for f in EMBEDDED_VOLUMES],
        masks=companion_files(config["dataset"], "mask", [str(f) for f in EMBEDDED_VOLUMES]),
    output:
        images=embedded_files("images"),
        labels=embedded_files("labels"),
    params:
        load=load_options(DATASET),
        seed=LESIONS["embedded"]["seed"],
        per_volume=LESIONS["embedded"]["per_volume"],
        axis=config["slices"]["axis"],
    log:
        "logs/lesions_embedded.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/lesions_embedded.py"


rule lesion_set:
    input:
        unpack(lesion_set_inputs),
        train="results/data/train.npy",
    output:
        stack="results/metrics/lesions/{lesion_set}/slices.npz",
        components="results/metrics/lesions/{lesion_set}/components.csv",
        summary="results/metrics/lesions/{lesion_set}/summary.json",
    params:
        load=lambda wc: lesion_set_load(wc.lesion_set),
        axis=config["slices"]["axis"],
        train_name=config["dataset"],
        options={k: LESIONS[k] for k in ("max_slices", "min_size", "max_wasserstein", "allow_mismatch")},
    resources:
        mem_mb=8000,
    log:
        "logs/lesion_set/{lesion_set}.log",
    benchmark:
        "results/benchmarks/lesion_set/{lesion_set}.tsv"
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/lesion_set.py"


rule lesion_scores:
    input:
        stack="results/metrics/lesions/{lesion_set}/slices.npz",
        components="results/metrics/lesions/{lesion_set}/components.csv",
        checkpoint=model_checkpoint,
        stats=model_stats,
        model_source=model_source,  # a bring-your-own model's or scorer's module: edits rerun it
        scorer_sources=all_scorer_sources,
    output:
        lesions="results/metrics/lesions/{lesion_set}/{model}.parquet",
        metrics="results/metrics/lesions/{lesion_set}/{model}_metrics.csv",
    params:
        model=evaluated_model(BATCHNORM),
        scores=SCORE_CONFIG,
        detected_fraction=LESIONS["detected_fraction"],
        margin=LESIONS["margin"],
    threads: 1
    resources:
        mem_mb=4000,
    log:
        "logs/lesion_scores/{lesion_set}_{model}.log",
    benchmark:
        "results/benchmarks/lesion_scores/{lesion_set}_{model}.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/lesion_scores.py"


rule lesions_metrics:
    localrule: True
    input:
        expand("results/metrics/lesions/{{lesion_set}}/{model}_metrics.csv", model=list(config["models"])),
    output:
        pdf="results/lesions_{lesion_set}_metrics.pdf",
        png=report("results/lesions_{lesion_set}_metrics.png", caption="../report/lesions_metrics.rst", category="Exp 4"),
        csv="results/lesions_{lesion_set}_metrics.csv",
    params:
        style=STYLE,
        models=list(config["models"]),
    log:
        "logs/figures/lesions_{lesion_set}_metrics.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_lesions_metrics.py"


rule lesions_by_intensity:
    localrule: True
    input:
        lesions=expand("results/metrics/lesions/{{lesion_set}}/{model}.parquet", model=list(config["models"])),
        fig3a="results/fig3a.csv",
        exp1=expand("results/metrics/scores/exp1/{score}.parquet", score=list(SCORERS)),
    output:
        pdf="results/lesions_{lesion_set}_by_intensity.pdf",
        png=report("results/lesions_{lesion_set}_by_intensity.png", caption="../report/lesions_by_intensity.rst", category="Exp 4"),
        csv="results/lesions_{lesion_set}_by_intensity.csv",
    params:
        style=STYLE,
        models=list(config["models"]),
        scores=list(SCORERS),
        bins=LESIONS["percentile_bins"],
    log:
        "logs/figures/lesions_{lesion_set}_by_intensity.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_lesions_by_intensity.py"
