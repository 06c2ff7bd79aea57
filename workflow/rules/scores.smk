# The scorer zoo (README "Which score escapes the blind spot?"): every configured scorer on Exp 1, 2
# and 3. The scorer is a wildcard where that is cheap (Exp 1, Exp 2: one job per scorer, so adding or
# changing one scorer reruns only its jobs); Exp 3 runs all scorers in one job per (model, mode):
# a model's forward passes over the intensity sweep (~1-2 min per model at the default 40 x 128^2 on
# one core) cost far more than scoring them, and keeping them for later scorers would mean a
# 131 MB float16 file per model at the default (4 GB at the paper's 320 x 256^2), whose rounding
# would also move the residual's AP off Fig. 3's. So adding a scorer reruns the 2 x (models) Exp 3
# jobs, never Exp 1/2 of the other scorers, and restyling reruns only the plots.
# Start-up checks and the helpers these rules use are in common.smk.


rule score_blur_stats:
    input:
        "results/data/train.npy",
    output:
        "results/metrics/scores/healthy_blur.npz",
    params:
        sigma=grid("sigma"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "logs/score_blur_stats.log",
    benchmark:
        "results/benchmarks/score_blur_stats.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/score_blur_stats.py"


rule score_model_stats:
    input:
        train="results/data/train.npy",
        val="results/data/val.npy",
        checkpoint=model_checkpoint,
    output:
        "results/metrics/scores/healthy_{model}.npz",
    params:
        spec=lambda wc: config["models"][wc.model],
        batch_size=config["evaluation"]["batch_size"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1,
    log:
        "logs/score_model_stats/{model}.log",
    benchmark:
        "results/benchmarks/score_model_stats/{model}.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/score_model_stats.py"


rule score_exp1:
    input:
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
        stats=blur_stats,
    output:
        "results/metrics/scores/exp1/{score}.parquet",
    params:
        entry=score_entry,
        intensity=grid("intensity"),
        sigma=grid("sigma"),
        radius=config["anomaly"]["radius"],
    # one scorer per job, one core each: the scorers run side by side
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        "logs/score_exp1/{score}.log",
    benchmark:
        "results/benchmarks/score_exp1/{score}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/score_exp1.py"


rule score_textures:
    input:
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
        stats=blur_stats,
    output:
        "results/metrics/scores/exp2/{score}.parquet",
    params:
        entry=score_entry,
        anomalies=config["anomaly"]["textures"],
        sigma=grid("sigma"),
        radius=config["anomaly"]["radius"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        "logs/score_textures/{score}.log",
    benchmark:
        "results/benchmarks/score_textures/{score}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/score_textures.py"


rule score_exp3:
    input:
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
        checkpoint=model_checkpoint,
        stats=model_stats,
    output:
        per_image="results/metrics/scores/exp3/{model}/{mode}.parquet",
        pooled="results/metrics/scores/exp3/{model}/{mode}_pooled.parquet",
    params:
        scores=SCORE_CONFIG,
        metrics=config["evaluation"]["metrics"],
        intensity=grid("intensity"),
        radius=config["anomaly"]["radius"],
        spec=lambda wc: config["models"][wc.model],
        batch_size=config["evaluation"]["batch_size"],
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=1,
    log:
        "logs/score_exp3/{model}_{mode}.log",
    benchmark:
        "results/benchmarks/score_exp3/{model}_{mode}.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/score_exp3.py"


# Plots and tables: compute-free, so restyling reruns only these.


rule scores_exp1:
    localrule: True
    input:
        expand("results/metrics/scores/exp1/{score}.parquet", score=list(SCORERS)),
    output:
        **figure_outputs("scores_exp1"),
    params:
        style=STYLE,
    log:
        "logs/figures/scores_exp1.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_scores_exp1.py"


rule scores_blindspot:
    localrule: True
    input:
        expand("results/metrics/scores/exp1/{score}.parquet", score=list(SCORERS)),
    output:
        **figure_outputs("scores_blindspot"),
    params:
        style=STYLE,
        blind_ap=config["evaluation"]["blind_spot_ap"],
    log:
        "logs/figures/scores_blindspot.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_scores_blindspot.py"


rule scores_textures:
    localrule: True
    input:
        expand("results/metrics/scores/exp2/{score}.parquet", score=list(SCORERS)),
    output:
        **figure_outputs("scores_textures"),
    params:
        style=STYLE,
    log:
        "logs/figures/scores_textures.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_scores_textures.py"


rule scores_exp3:
    localrule: True
    input:
        per_image=expand(
            "results/metrics/scores/exp3/{model}/{mode}.parquet",
            model=list(config["models"]),
            mode=["healthy", "anomalous"],
        ),
        pooled=expand(
            "results/metrics/scores/exp3/{model}/{mode}_pooled.parquet",
            model=list(config["models"]),
            mode=["healthy", "anomalous"],
        ),
    output:
        **figure_outputs("scores_exp3"),
    params:
        style=STYLE,
        labels={m: model_label(m) for m in config["models"]},
    log:
        "logs/figures/scores_exp3.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_scores_exp3.py"


rule scores_summary:
    localrule: True
    input:
        exp1=expand("results/metrics/scores/exp1/{score}.parquet", score=list(SCORERS)),
        per_image=expand(
            "results/metrics/scores/exp3/{model}/anomalous.parquet", model=list(config["models"])
        ),
        pooled=expand(
            "results/metrics/scores/exp3/{model}/anomalous_pooled.parquet",
            model=list(config["models"]),
        ),
    output:
        csv="results/scores_summary.csv",
        html=report(
            "results/scores_summary.html", caption="../report/scores_summary.rst", category="Scorers"
        ),
    params:
        models=list(config["models"]),
        metrics=config["evaluation"]["metrics"],
        blind_ap=config["evaluation"]["blind_spot_ap"],
    log:
        "logs/figures/scores_summary.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/scores_summary.py"
