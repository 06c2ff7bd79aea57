"""The experiments, each returning a tidy DataFrame (one row per image x condition).

* :mod:`.paper`: the paper's Exp 1-3 (the residual);
* :mod:`.zoo`: the same experiments for any configured scorer (the scorer zoo);
* :mod:`.parallel`: their shared input checks and process-pool map.
"""
