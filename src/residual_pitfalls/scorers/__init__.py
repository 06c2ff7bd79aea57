"""The scorer zoo: anomaly scorers beyond the residual.

* :mod:`.builtin`: the built-in scorers and :data:`~.builtin.SCORES`;
* :mod:`.stats`: healthy statistics (:class:`~.stats.HealthyStats`) and their files;
* :mod:`.registry`: configured scorers (:class:`~.registry.ScorerSpec`), config checks, scoring;
* :mod:`.fast_path`: the Exp 1 / Exp 3.1 fast per-image AP grid for any scorer.
"""
