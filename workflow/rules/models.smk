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


rule model_intensity_curve:
    input:
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
        checkpoint=model_checkpoint,
    output:
        curve="results/metrics/exp3_{model}_{mode}.parquet",
        examples="results/metrics/exp3_{model}_{mode}_examples.npz",
        # every reconstruction of the sweep, for the scorer zoo (score_exp3) to score without a
        # second forward pass; temp: 262 MB per model at the default, 8 GB at the paper's scale
        reconstructions=temp("results/metrics/exp3_{model}_{mode}_reconstructions.npy"),
    params:
        intensity=grid("intensity"),
        radius=config["anomaly"]["radius"],
        spec=lambda wc: config["models"][wc.model],
        batch_size=config["evaluation"]["batch_size"],
        example_intensity=config["evaluation"]["example_intensity"],
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
