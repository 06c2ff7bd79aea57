"""`residual-pitfalls`: the command line for what is useful without running the workflow.

    residual-pitfalls check-config my.yaml          config.yaml + overlays: schema and cross-key checks
    residual-pitfalls ap labels.nii.gz map.nii.gz   sklearn's AP of your own anomaly map (fast path)
    residual-pitfalls render-docs --results results the README's and docs' numbers from a run's CSVs

Thin over the library: ``config.check_all`` (what the workflow runs at start-up and in its
``check_setup`` job) and ``metrics.average_precision`` / ``average_precision_batch``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

# The checkout this package was installed from (editable install); holds config.yaml and the schema.
CHECKOUT = Path(__file__).resolve().parents[2]
SCHEMA = Path("workflow") / "schemas" / "config.schema.yaml"


def _workflow_root(given: Path | None) -> Path:
    """The folder with config.yaml and the schema: --workflow, else the current folder, else the
    checkout this package was installed from."""
    candidates = [given] if given else [Path.cwd(), CHECKOUT]
    for root in candidates:
        if (root / SCHEMA).is_file() and (root / "config.yaml").is_file():
            return root
    raise SystemExit(
        f"error: no config.yaml and {SCHEMA} under {', '.join(str(c) for c in candidates)}; "
        "run from the residual-pitfalls checkout or pass --workflow <checkout>"
    )


def _load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise SystemExit(f"error: cannot read config file {str(path)!r}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise SystemExit(f"error: {str(path)!r} is not valid YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SystemExit(f"error: {str(path)!r} must hold a mapping of config keys")
    return data


def merged_config(root: Path, overlays: Sequence[Path]) -> dict:
    """config.yaml of `root` updated by each overlay in order, nested mappings merged key by key
    (as `snakemake --configfile` does)."""
    from snakemake.utils import update_config

    config = _load_yaml(root / "config.yaml")
    for overlay in overlays:
        update_config(config, _load_yaml(overlay))
    return config


def check_config_command(args: argparse.Namespace) -> int:
    from residual_pitfalls.config import check_all

    root = _workflow_root(args.workflow)
    config = merged_config(root, args.overlays)
    try:  # the workflow's start-up checks plus its check_setup job's (deep: imports the code)
        check_all(config, str((root / SCHEMA).resolve()), deep=True)
    except (ValueError, OSError) as err:  # ConfigError, ScoreError, a data folder's errors
        print(f"error: {err}", file=sys.stderr)
        return 1
    entry = config["datasets"][config["dataset"]]
    print(
        f"ok: {' + '.join(['config.yaml', *map(str, args.overlays)])}: data set "
        f"{config['dataset']!r} ({entry['source']}), {config['image_size']}^2 px, "
        f"{len(config.get('models', {}))} models, {len(config.get('lesion_figures', {}))} "
        "lesion figures"
    )
    if args.show:
        print(yaml.safe_dump(config, sort_keys=False), end="")
    return 0


def load_array(path: Path) -> np.ndarray:
    """A .npy array or a NIfTI image's voxels (as stored, no reorientation)."""
    if not path.is_file():
        raise SystemExit(f"error: {str(path)!r} does not exist")
    name = path.name.lower()
    if name.endswith(".npy"):
        return np.load(path)
    if name.endswith((".nii", ".nii.gz")):
        import nibabel as nib

        return np.asanyarray(nib.load(path).dataobj)
    raise SystemExit(f"error: {str(path)!r}: expected a .npy, .nii or .nii.gz file")


def ap_command(args: argparse.Namespace) -> int:
    from residual_pitfalls.metrics.ap import average_precision, average_precision_batch

    labels, scores = load_array(args.labels), load_array(args.scores)
    try:
        if args.per_image:
            aps = average_precision_batch(labels, scores)
            print("image,ap")
            for i, ap in enumerate(aps):
                print(f"{i},{ap:.10g}")
            print(f"# mean AP over {len(aps)} images: {aps.mean():.10g}", file=sys.stderr)
        else:
            print(f"{average_precision(labels, scores):.10g}")
    except ValueError as err:
        print(f"error: {args.labels} / {args.scores}: {err}", file=sys.stderr)
        return 1
    return 0


def render_docs_command(args: argparse.Namespace) -> int:
    from residual_pitfalls.reporting.rendered_docs import RenderError, render_files

    if args.files:
        files = args.files
    else:
        root = _workflow_root(args.workflow)
        files = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    try:
        changed = render_files(files, args.results, check=args.check)
    except RenderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    verb = "differ from" if args.check else "rendered from"
    for path in changed:
        print(f"{path}: {verb} {args.results}")
    if not changed:
        print(f"ok: {len(files)} file(s) match {args.results}")
    return 1 if args.check and changed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="residual-pitfalls", description=__doc__.split("\n")[0].split(": ", 1)[1]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check-config",
        help="validate config.yaml plus your overlays without running the workflow",
        description="Merge config.yaml with each overlay (as `snakemake --configfile` does), then "
        "run the schema and the cross-key checks the workflow runs at start-up. Exit 0 if valid.",
    )
    check.add_argument("overlays", nargs="*", type=Path, help="config overlays, in order")
    check.add_argument(
        "--workflow", type=Path, help="the checkout (default: here, or the install's)"
    )
    check.add_argument("--show", action="store_true", help="print the merged config with defaults")
    check.set_defaults(run=check_config_command)

    ap = commands.add_parser(
        "ap",
        help="average precision of an anomaly map (sklearn's definition, fast path)",
        description="AP of SCORES against LABELS over all pixels/voxels (label 1 = anomalous), "
        "equal to sklearn.metrics.average_precision_score on the flattened arrays.",
    )
    ap.add_argument("labels", type=Path, help=".npy / .nii(.gz): 0/1 or bool, same shape as scores")
    ap.add_argument("scores", type=Path, help=".npy / .nii(.gz): higher = more anomalous")
    ap.add_argument(
        "--per-image", action="store_true", help="one AP per entry of the first axis (CSV)"
    )
    ap.set_defaults(run=ap_command)

    render = commands.add_parser(
        "render-docs",
        help="render the numbers of README.md and docs/*.md from a run's CSVs",
        description="Replace every <!-- rendered:NAME --> ... <!-- /rendered --> block of the "
        "files with what the run's CSVs say (residual_pitfalls.reporting.rendered_docs). With --check, write "
        "nothing and exit 1 if a block differs.",
    )
    render.add_argument("files", nargs="*", type=Path, help="default: README.md and docs/*.md")
    render.add_argument(
        "--results", type=Path, default=Path("results"), help="the run's results folder"
    )
    render.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    render.add_argument(
        "--workflow", type=Path, help="the checkout (default: here, or the install's)"
    )
    render.set_defaults(run=render_docs_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
