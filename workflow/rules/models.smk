# Models: train the configured architectures, then Exp 3.1 / 3.2 with every model (ours or yours).


rule train_model:
    input:
        setup=ancient(SETUP_OK),
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


rule model_intensity_curve:
    input:
        setup=ancient(SETUP_OK),
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
        checkpoint=model_checkpoint,
        plugin=model_source,
    output:
        curve="results/metrics/exp3_{model}_{mode}.parquet",
        # every reconstruction of the sweep, for the scorer zoo (score_exp3) to score without a
        # second forward pass; temp: 262 MB per model at the default, 8 GB at the paper's scale
        reconstructions=temp("results/metrics/exp3_{model}_{mode}_reconstructions.npy"),
    params:
        intensity=grid("intensity"),
        radius=config["anomaly"]["radius"],
        spec=lambda wc: config["models"][wc.model],
        batch_size=config["evaluation"]["batch_size"],
        example_intensity=config["evaluation"]["example_intensity"],
        # the configured mode; the BatchNorm comparison below names its mode in the file name
        batchnorm=lambda wc: wc.get("batchnorm", config["evaluation"]["batchnorm"]),
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=1,
    log:
        "logs/model_intensity_curve/{model}_{mode}.log",
    benchmark:
        "results/benchmarks/model_intensity_curve/{model}_{mode}.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/model_intensity_curve.py"


# Fig. 4(a)'s example maps: only the anomalous mode and only the example models (same script).
# Four reconstructions: no GPU asked for.
use rule model_intensity_curve as model_examples with:
    output:
        examples="results/metrics/exp3_{model}_anomalous_examples.npz",
    resources:
        mem_mb=8000,
        runtime=60,
    log:
        "logs/model_examples/{model}.log",
    benchmark:
        "results/benchmarks/model_examples/{model}.tsv"


# Exp 3.1 in the BatchNorm mode the configuration does not evaluate in, for
# results/fig3a_per_image_bn only (the configured mode's curves are the files above: nothing runs twice).
# One forward pass per healthy test image: no GPU requested (a local GPU is still used when present).
use rule model_intensity_curve as model_intensity_curve_batchnorm with:
    output:
        curve="results/metrics/exp3_{model}_{mode}_bn-{batchnorm}.parquet",
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=0,
    log:
        "logs/model_intensity_curve/{model}_{mode}_bn-{batchnorm}.log",
    benchmark:
        "results/benchmarks/model_intensity_curve_batchnorm/{model}_{mode}_bn-{batchnorm}.tsv"
