# The scorer zoo (README "Which score escapes the blind spot?"): every configured scorer on Exp 1, 2
# and 3. Reconstruct once, score many. Exp 1/2: one job per scorer (the scorer is a wildcard; its
# blurs cost less than its scoring), so adding or changing a scorer reruns only its own jobs.
# Exp 3: a model's forward passes over the intensity grid (~1-2 min per model at the default on one
# core) cost more than scoring them with every scorer (~30 s), so they are never repeated: the
# paper's Exp 3 job (model_intensity_curve) records its reconstructions in a temp float32 .npy
# (262 MB per model at the default, 8 GB at the paper's 320 x 256^2; float16 would halve it but move
# the residual's AP off Fig. 3's) and one score_exp3 job per (model, mode) scores them with all
# scorers. Adding a scorer therefore reruns the Exp 3 jobs (forward passes included: the temp file
# is gone), never Exp 1/2 of the other scorers; restyling reruns only the plots.
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
        plugin=model_source,
    output:
        "results/metrics/scores/healthy_{model}.npz",
    params:
        model=evaluated_model(BATCHNORM),
    # a few dozen validation slices: no GPU requested (a local one is still used when present)
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
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
        plugin=scorer_source,
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
        plugin=scorer_source,
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
        reconstructions=exp3_file("{model}", "{mode}", what="_reconstructions.npy"),
        stats=model_stats,
        plugins=all_scorer_sources,
    output:
        per_image="results/metrics/scores/exp3/{model}/{mode}.parquet",
        pooled="results/metrics/scores/exp3/{model}/{mode}_pooled.parquet",
    params:
        scores=SCORE_CONFIG,
        metrics=config["evaluation"]["metrics"],
        intensity=grid("intensity"),
        radius=config["anomaly"]["radius"],
    # run as soon as its reconstructions exist, so few of the temp files live at once
    priority: 1
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        "logs/score_exp3/{model}_{mode}.log",
    benchmark:
        "results/benchmarks/score_exp3/{model}_{mode}.tsv"
    conda:
        "../../envs/analysis.yaml"
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
            "results/scores_summary.html",
            caption="../report/scores_summary.rst",
            **report_section("scores_summary"),
        ),
    params:
        models=list(config["models"]),
        labels={m: model_label(m) for m in config["models"]},
        metrics=config["evaluation"]["metrics"],
        blind_ap=config["evaluation"]["blind_spot_ap"],
    log:
        "logs/figures/scores_summary.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/scores_summary.py"
