# Figures: compute-free rules that turn metric tables into PDF + PNG + CSV (restyling reruns only these).
# `localrule: True`: under a cluster executor they plot on the submit host instead of queueing.

STYLE = config["figures"]


rule fig1a:
    localrule: True
    input:
        "results/metrics/exp1_raw.parquet",
    output:
        **figure_outputs("fig1a"),
    params:
        style=STYLE,
        title="",
    log:
        "logs/figures/fig1a.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_heatmap.py"


use rule fig1a as fig6a with:
    localrule: True  # `use rule ... with:` resets it to False
    input:
        "results/metrics/exp1_histeq.parquet",
    output:
        **figure_outputs("fig6a"),
    params:
        style=STYLE,
        title="histogram-equalised brains",
    log:
        "logs/figures/fig6a.log",


rule fig1b:
    localrule: True
    input:
        "results/data/test.npy",
    output:
        **figure_outputs("fig1b"),
    params:
        style=STYLE,
        bins=config["histograms"]["bins"],
        title="",
    log:
        "logs/figures/fig1b.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_histogram.py"


use rule fig1b as fig6b with:
    localrule: True  # `use rule ... with:` resets it to False
    input:
        "results/data/test_histeq.npy",
    output:
        **figure_outputs("fig6b"),
    params:
        style=STYLE,
        bins=config["histograms"]["bins"],
        title="histogram-equalised test set",
    log:
        "logs/figures/fig6b.log",


rule fig2:
    localrule: True
    input:
        textures=expand("results/metrics/exp2_{anomaly}.parquet", anomaly=config["anomaly"]["textures"]),
        grid="results/metrics/exp1_raw.parquet",
    output:
        **figure_outputs("fig2"),
    params:
        style=STYLE,
    log:
        "logs/figures/fig2.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_textures.py"


rule fig5:
    localrule: True
    input:
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
    output:
        **figure_outputs("fig5"),
    params:
        style=STYLE,
        seed=config["seed"],
        radius=config["anomaly"]["radius"],
        intensity=config["evaluation"]["example_intensity"],
        sigma=config["evaluation"]["example_sigma"],
    log:
        "logs/figures/fig5.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_anomaly_examples.py"


rule fig3a:
    localrule: True
    input:
        curves=exp3_curves("healthy"),
        grid="results/metrics/exp1_raw.parquet",
    output:
        **figure_outputs("fig3a"),
    params:
        style=STYLE,
        # the CSV (the matched-sigma table) has every model; the plot draws evaluation.paper_models
        models=list(config["models"]),
        drawn=paper_models(),
        labels=[model_label(m) for m in config["models"]],
        families=[config["models"][m].get("arch", "your model") for m in config["models"]],
        matched=config["evaluation"]["matched_models"],
        title="Exp. 3.1: the model reconstructs the healthy image",
    log:
        "logs/figures/fig3a.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_model_curves.py"


use rule fig3a as fig3b with:
    localrule: True  # `use rule ... with:` resets it to False
    input:
        curves=exp3_curves("anomalous", models=paper_models()),
    output:
        **figure_outputs("fig3b"),
    params:
        style=STYLE,
        models=paper_models(),
        labels=[model_label(m) for m in paper_models()],
        families=[config["models"][m].get("arch", "your model") for m in paper_models()],
        matched=[],
        title="Exp. 3.2: the model reconstructs the anomalous image",
    log:
        "logs/figures/fig3b.log",


rule fig3a_per_image_bn:
    localrule: True
    input:
        eval=exp3_curves("healthy", "eval", models=paper_models()),
        per_image=exp3_curves("healthy", "per_image", models=paper_models()),
        grid="results/metrics/exp1_raw.parquet",
    output:
        **figure_outputs("fig3a_per_image_bn"),
    params:
        style=STYLE,
        models=paper_models(),
        labels=[model_label(m) for m in paper_models()],
    log:
        "logs/figures/fig3a_per_image_bn.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_batchnorm_curves.py"


rule fig4a:
    localrule: True
    input:
        [
            exp3_file(m, "anomalous", what="_examples.npz")
            for m in config["evaluation"]["example_models"]
        ],
    output:
        **figure_outputs("fig4a"),
    params:
        style=STYLE,
        models=config["evaluation"]["example_models"],
        labels=[model_label(m) for m in config["evaluation"]["example_models"]],
    log:
        "logs/figures/fig4a.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_model_examples.py"


rule fig4b:
    localrule: True
    input:
        healthy=exp3_curves("healthy", models=paper_models()),
        anomalous=exp3_curves("anomalous", models=paper_models()),
    output:
        **figure_outputs("fig4b"),
    params:
        style=STYLE,
        models=paper_models(),
        labels=[model_label(m) for m in paper_models()],
    log:
        "logs/figures/fig4b.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_error_vs_ap.py"


rule fig3_modern:
    localrule: True
    input:
        healthy=exp3_curves("healthy", models=modern_models()),
        anomalous=exp3_curves("anomalous", models=modern_models()),
        grid="results/metrics/exp1_raw.parquet",
    output:
        **figure_outputs("fig3_modern"),
    params:
        style=STYLE,
        models=modern_models(),
        labels=[model_label(m) for m in modern_models()],
        families=[config["models"][m].get("arch", "your model") for m in modern_models()],
    log:
        "logs/figures/fig3_modern.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig_modern_curves.py"


for _figure, _lesions in config["lesion_figures"].items():

    rule:
        name:
            _figure
        localrule: True
        input:
            expand("results/metrics/lesions_{lesion}.csv", lesion=_lesions),
        output:
            **figure_outputs(_figure),
        params:
            style=STYLE,
            names=_lesions,
        log:
            f"logs/figures/{_figure}.log",
        conda:
            "../../envs/analysis.yaml"
        script:
            "../scripts/fig_lesions.py"
