"""Exact per-image average precision (fast engines equal to sklearn) and the other metrics.

* :mod:`.ap`: the AP engines (general maps, one map's APs per intensity) and the sklearn reference;
* :mod:`.kernels`: their compiled numba kernels;
* :mod:`.segmentation`: pooled AP, per-image AUROC, best Dice (scorer zoo).
"""
