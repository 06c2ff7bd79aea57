"""The configuration checks that import code: user scorers, model classes, hyperparameters.

:func:`residual_pitfalls.config.check_all` runs them with ``deep=True``: in
``residual-pitfalls check-config`` and in the workflow's ``check_setup`` job, which every job that
uses a model or a scorer depends on (so the workflow's parse imports no torch, numba or
matplotlib). Each error names the config key and the model or scorer.
"""

from __future__ import annotations

from collections.abc import Mapping

from residual_pitfalls.errors import ConfigError
from residual_pitfalls.models.external import import_class
from residual_pitfalls.models.registry import build_model, sized_hparams
from residual_pitfalls.scorers.builtin import SCORES
from residual_pitfalls.scorers.entries import zoo_entries
from residual_pitfalls.scorers.registry import check_scorer, resolve_scorers


def check_code(config: Mapping) -> None:
    """The figure colormap exists, every scorer resolves (a user function imports, takes its
    params and returns a finite map of the right shape on a test batch) and every model builds
    (its hparams) or its class imports (a bring-your-own ``class_path``)."""
    _check_cmap(config.get("figures", {}).get("cmap"))
    _check_scorers(config.get("scores"))
    _check_models(config.get("models", {}), int(config["image_size"]))


def _check_cmap(cmap: str | None) -> None:
    if cmap is None:
        return
    from matplotlib import colormaps  # only here: the figures' env has it, not every job's

    if cmap not in colormaps:
        raise ConfigError(
            f"config key 'figures.cmap': {cmap!r} is not a matplotlib colormap "
            "(for instance coolwarm, viridis, magma, gray)"
        )


def _check_scorers(config_scores: Mapping | None) -> None:
    for spec in resolve_scorers(zoo_entries(config_scores)).values():
        if spec.source not in SCORES:  # statistics, if it needs them, from its test batch
            check_scorer(spec)


def _check_models(models: Mapping, image_size: int) -> None:

    for name, spec in models.items():
        if "checkpoint" in spec:
            if "class_path" in spec:
                try:
                    import_class(spec["class_path"])
                except (ImportError, ValueError, AttributeError, TypeError) as exc:
                    raise ConfigError(
                        f"config key 'models.{name}.class_path': model {name!r}: {exc}"
                    ) from None
            continue
        try:
            build_model(spec["arch"], **sized_hparams(spec["arch"], spec["hparams"], image_size))
        except Exception as exc:  # the constructor's own error, whatever its type
            raise ConfigError(
                f"config key 'models.{name}.hparams': model {name!r}: {exc}"
            ) from None
