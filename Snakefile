# residual-pitfalls: every figure of "On the Pitfalls of Using the Residual Error as Anomaly Score"
# (Meissen et al., MIDL 2022) as one reproducible workflow.
#
#   snakemake --cores 8 all                  every figure on the default data set (paper + zoo)
#   snakemake --cores 8 paper                only the paper's figures (no scorer zoo)
#   snakemake --cores 8 zoo                  only the scorer zoo's figures and summary
#   snakemake --cores 2 results/fig3b.pdf    one figure and only what it needs
#
# Output layout (the user's data folders are only ever read):
#   results/data/volumes/sub-XXXX.nii.gz     embedded synthetic brains (NIfTI, like real data)
#   results/data/{train,val,test}.npy|csv    (N, H, W) float32 slices in [0, 1] + provenance
#   results/data/test_histeq.npy|csv         App. C: per-slice equalised test slices
#   results/data/anomaly_centres.csv         the one disk centre per test image (image,row,col,radius)
#   results/models/{model}/model.pt          trained weights; loss.csv, loss.png, last.pt (resume)
#   results/metrics/*.parquet                one row per image x condition (tidy, for your own stats)
#   results/fig*.pdf|png|csv                 each figure and exactly the numbers it plots
#   results/scores_*.pdf|png|csv             the scorer zoo on Exp 1-3 (+ scores_summary.csv|html)
#   results/metrics/scores/...               its per-image tables and healthy statistics (.npz)
#   results/report.html                      `snakemake --report results/report.html`
#   logs/<rule>/..., results/benchmarks/<rule>/...  one log and one benchmark per job

from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config.yaml")

# workflow/rules/common.smk checks it (workflow/schemas/config.schema.yaml and cross-key checks).


include: "workflow/rules/common.smk"
include: "workflow/rules/checks.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/scores.smk"
include: "workflow/rules/lesions.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        all_figures(),
        all_scores(),
        all_lesions(),
        "results/provenance.yaml",
        SETUP_OK,
    default_target: True


# The paper's figures only (Figs. 1-8 as configured), without the scorer zoo.
rule paper:
    input:
        all_figures(),
        SETUP_OK,
    localrule: True


# The scorer zoo only: its figures and results/scores_summary.csv (and what they need).
rule zoo:
    input:
        all_scores(),
        SETUP_OK,
    localrule: True

