# The start-up checks that import code (residual_pitfalls.checks): user scorers, model classes,
# hparams, the colormap. A job, so that parsing the workflow (every job re-parses it) imports no
# torch, numba or matplotlib. `all`, `paper` and `zoo` run it (a changed entry reruns it through its
# params); no other job takes its output as input: a job whose input is about to be rebuilt made
# Snakemake 9 stop after this one (adding a scorer ran the check and not the scorer's own jobs),
# and each scorer's or model's own job fails on the same code anyway.


rule check_setup:
    output:
        SETUP_OK,
    params:
        scores=config.get("scores"),
        models=config["models"],
        image_size=config["image_size"],
        cmap=config["figures"]["cmap"],
    localrule: True
    log:
        "logs/check_setup.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/check_setup.py"
