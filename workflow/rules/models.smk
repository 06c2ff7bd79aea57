# Models: train the configured architectures, then Exp 3.1 / 3.2 with every model (ours or yours).


rule train_model:
    input:
        train="results/data/train.npy",
        val="results/data/val.npy",
    output:
        model="results/models/{model}/model.pt",
        log_csv="results/models/{model}/loss.csv",
        curve="results/models/{model}/loss.png",
    params:
        arch=lambda wc: config["models"][wc.model]["arch"],
        hparams=lambda wc: config["models"][wc.model]["hparams"],
        image_size=config["image_size"],
        training=config["training"],
        seed=config["seed"],
        workdir=lambda wc: f"results/models/{wc.model}",
    # One thread per job: several single-threaded trainings share the cores far better than
    # oversubscribed multi-threaded ones (measured: 2 threads x 4 jobs on 2 cores ran 10x slower).
    # Raise it per cluster with `set-threads: {train_model: 8}` in a profile.
    threads: 1
    resources:
        mem_mb=8000,
        runtime=600,
        gpu=1,
    log:
        "logs/train_model/{model}.log",
    benchmark:
        "results/benchmarks/train_model/{model}.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/train_model.py"


# Exp 3 in three explicit rules, one script each: the curves in the configured BatchNorm mode
# (with the reconstructions the scorer zoo scores), the curves in the other mode (the BatchNorm
# comparison only) and Fig. 4(a)'s example maps. Each carries only the params its script reads, so
# a figure-only setting (evaluation.example_intensity) reruns only the examples and their figure.
rule model_intensity_curve:
    input:
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
        checkpoint=model_checkpoint,
        plugin=model_source,
    output:
        curve=exp3_file("{model}", "{mode}", "{batchnorm}"),
        # every reconstruction of the intensity grid, for the scorer zoo (score_exp3) to score without a
        # second forward pass; temp: 262 MB per model at the default, 8 GB at the paper's scale
        reconstructions=temp(exp3_file("{model}", "{mode}", "{batchnorm}", "_reconstructions.npy")),
    wildcard_constraints:
        batchnorm=BATCHNORM,
    params:
        intensity=grid("intensity"),
        radius=config["anomaly"]["radius"],
        model=evaluated_model(BATCHNORM),
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=1,
    log:
        "logs/model_intensity_curve/{model}_{mode}_bn-{batchnorm}.log",
    benchmark:
        "results/benchmarks/model_intensity_curve/{model}_{mode}_bn-{batchnorm}.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/model_intensity_curve.py"


# Exp 3.1 in the BatchNorm mode the configuration does not evaluate in, for
# results/fig3a_per_image_bn only (the configured mode's curves are the files above: nothing runs
# twice). One forward pass per healthy test image: no GPU requested (a local GPU is still used).
rule model_intensity_curve_batchnorm:
    input:
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
        checkpoint=model_checkpoint,
    output:
        curve=exp3_file("{model}", "{mode}", "{batchnorm}"),
    wildcard_constraints:
        batchnorm=OTHER_BATCHNORM,
        mode="healthy",
    params:
        intensity=grid("intensity"),
        radius=config["anomaly"]["radius"],
        model=evaluated_model(OTHER_BATCHNORM),
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=0,
    log:
        "logs/model_intensity_curve_batchnorm/{model}_{mode}_bn-{batchnorm}.log",
    benchmark:
        "results/benchmarks/model_intensity_curve_batchnorm/{model}_{mode}_bn-{batchnorm}.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/model_batchnorm_curve.py"


# Fig. 4(a)'s example maps: the anomalous mode, the configured BatchNorm mode, only the example
# models. Four reconstructions: no GPU asked for.
rule model_examples:
    input:
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
        checkpoint=model_checkpoint,
    output:
        examples=exp3_file("{model}", "anomalous", "{batchnorm}", "_examples.npz"),
    wildcard_constraints:
        batchnorm=BATCHNORM,
    params:
        radius=config["anomaly"]["radius"],
        model=evaluated_model(BATCHNORM),
        example_intensity=config["evaluation"]["example_intensity"],
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    log:
        "logs/model_examples/{model}_bn-{batchnorm}.log",
    benchmark:
        "results/benchmarks/model_examples/{model}_bn-{batchnorm}.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/model_examples.py"
