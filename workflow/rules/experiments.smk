# Simulated reconstructions: Exp 1 and App. C (disk x intensity x blur), Exp 2 (textures x blur),
# App. D (normal vs lesion voxel histograms). Grids are swept inside one job; categories are wildcards.


rule intensity_sigma_grid:
    input:
        images=test_stack,
        centres="results/data/anomaly_centres.csv",
    output:
        "results/metrics/exp1_{variant}.parquet",
    params:
        intensity=grid("intensity"),
        sigma=grid("sigma"),
        radius=config["anomaly"]["radius"],
    threads: 8
    resources:
        # one forked worker process per thread. benchmarks/exp1_grid.py, paper grid (320 x 100 x
        # 100 at 256²): 488 MB PSS for the main process, +20-48 MB per worker; 2x headroom on both
        mem_mb=lambda wc, threads: 1000 + 100 * threads,
        runtime=120,
    log:
        "logs/intensity_sigma_grid/{variant}.log",
    benchmark:
        "results/benchmarks/intensity_sigma_grid/{variant}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/intensity_sigma_grid.py"


rule texture_sigma_curve:
    input:
        images="results/data/test.npy",
        centres="results/data/anomaly_centres.csv",
    output:
        "results/metrics/exp2_{anomaly}.parquet",
    params:
        sigma=grid("sigma"),
        radius=config["anomaly"]["radius"],
        seed=config["seed"],
    threads: 8
    resources:
        # as intensity_sigma_grid: 320 paper-scale test slices x 100 sigmas measured 380-390 MB PSS
        # with one worker, +20 MB per worker; 2x headroom on both
        mem_mb=lambda wc, threads: 1000 + 100 * threads,
        runtime=120,
    log:
        "logs/texture_sigma_curve/{anomaly}.log",
    benchmark:
        "results/benchmarks/texture_sigma_curve/{anomaly}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/texture_sigma_curve.py"


rule lesion_histogram:
    input:
        images=lambda wc: dataset_files(wc.lesion),
        labels=lambda wc: companion_files(wc.lesion, "labels"),
        masks=lambda wc: companion_files(wc.lesion, "mask"),
    output:
        "results/metrics/lesions_{lesion}.csv",
    params:
        anomaly_values=lambda wc: config["datasets"][wc.lesion]["labels"].get("anomaly_values"),
        ignore_values=lambda wc: config["datasets"][wc.lesion]["labels"].get("ignore_values", []),
        load=lambda wc: volume_options(config["datasets"][wc.lesion]),
        bins=config["histograms"]["bins"],
    resources:
        mem_mb=8000,
        runtime=60,
    log:
        "logs/lesion_histogram/{lesion}.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/lesion_histogram.py"
