# Provenance for the HTML report (`snakemake --report results/report.html` after `all`).
from types import SimpleNamespace


def provenance_inputs():
    """What the provenance describes: every figure's table, the data stacks and the model weights.
    As inputs they make it rerun whenever one of them is rebuilt, so it names that run's revision."""
    trained = [m for m, spec in config["models"].items() if "checkpoint" not in spec]
    splits = ["train", "val", "test"] if trained else ["test"]
    return {
        "figures": [f.removesuffix(".pdf") + ".csv" for f in all_figures()],
        "data": [f"results/data/{split}.npy" for split in splits],
        "models": [model_checkpoint(SimpleNamespace(model=m)) for m in config["models"]],
    }


rule provenance:
    input:
        **provenance_inputs(),
    output:
        report(
            "results/provenance.yaml",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    params:
        config=config,
    log:
        "logs/provenance.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/provenance.py"
