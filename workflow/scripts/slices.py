"""Stack the configured slices of one split's volumes: (N, H, W) float32 + provenance CSV."""

from pathlib import Path

import numpy as np

from residual_pitfalls.data.slices import build_slice_stack
from residual_pitfalls.runlog import job_log

with job_log(snakemake.log[0]):
    stack, provenance = build_slice_stack(
        [Path(p) for p in snakemake.input.volumes],
        snakemake.params.indices,
        axis=snakemake.params.axis,
        masks=[Path(p) for p in snakemake.input.masks] or None,
        require_foreground=snakemake.wildcards.split == "test",
        progress=True,
        workers=snakemake.threads,
        **snakemake.params.load,
    )
    np.save(snakemake.output.stack, stack)
    provenance.to_csv(snakemake.output.provenance, index=False)
    print(f"{snakemake.wildcards.split}: {stack.shape} from {len(snakemake.input.volumes)} volumes")
