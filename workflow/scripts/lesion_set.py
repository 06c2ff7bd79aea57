"""Exp 4: a labelled set read and checked (guard rails), its 3-D lesions and the slices to score."""

import json

import numpy as np

from residual_pitfalls.lesions.prepare import prepare_lesion_set
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    load, label_values = snakemake.params.load
    stack, components, summary = prepare_lesion_set(
        snakemake.input.images,
        snakemake.input.labels,
        snakemake.input.get("masks", []),
        np.load(snakemake.input.train),
        set_name=snakemake.wildcards.lesion_set,
        train_name=snakemake.params.train_name,
        load=load,
        label_values=label_values,
        axis=snakemake.params.axis,
        progress=True,
        **snakemake.params.options,
    )
    stack.save(snakemake.output.stack)
    components.to_csv(snakemake.output.components, index=False)
    with open(snakemake.output.summary, "w") as fh:
        json.dump(summary, fh, indent=1)
    print(json.dumps(summary))
