# Provenance for the HTML report (`snakemake --report results/report.html` after `all`).


rule provenance:
    input:
        **provenance_inputs(),
    output:
        report(
            "results/provenance.yaml",
            caption="../report/provenance.rst",
            category="3 Provenance",
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
