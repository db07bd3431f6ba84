"""``train``: train one candidate with structured pruning, export it int8 and measure it in TFLM.

``python -m search_engine train --arch ARCH.json --dataset digits --sparsity 0.5 --profile quick
--out DIR`` writes ``DIR/model.keras``, ``DIR/model.tflite``, ``DIR/model.h`` and
``DIR/report.json`` (see ``docs/training.md``) and prints progress (one line per epoch and
stage). Bad input exits with status 2 and a one-line message; a failing pipeline stage with 1.
TensorFlow is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from search_engine.cli import arguments

if TYPE_CHECKING:
    from search_engine.space import Architecture


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``train``."""
    parser = subparsers.add_parser(
        "train",
        help="train, prune, export and measure one architecture",
        description=(
            "Train an architecture with structured pruning, materialise the pruned network, "
            "export it as an int8 .tflite in the memory-optimal operator order with a C "
            "header, and measure it in TFLite Micro (arena size, int8 test accuracy)."
        ),
    )
    parser.add_argument("--arch", required=True, metavar="ARCH.json",
                        help="architecture JSON (as written by `sample`)")
    parser.add_argument("--dataset", default="digits", metavar="NAME",
                        help="data set: digits, mnist, fashion-mnist, cifar10, ... "
                        "(default digits)")
    parser.add_argument("--sparsity", default="0.5", metavar="S",
                        help="structured-pruning target in [0, 1) (default 0.5)")
    parser.add_argument("--profile", default="quick", metavar="NAME",
                        help="training profile: quick or paper (default quick)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--seed", type=arguments.seed, default=0, help="random seed (default 0)")
    parser.add_argument("--data-dir", default=None, metavar="D",
                        help="folder holding one sub-folder per data set")
    parser.add_argument("--path", default=None, metavar="FILE",
                        help="the data file of an upload data set (npz, image-folder), or the "
                        "exact folder of a folder data set")
    parser.add_argument("--limit", default=None, metavar="N",
                        help="at most N samples per split (quick experiments)")
    parser.add_argument("--epochs", default=None, metavar="N",
                        help="override the profile's number of epochs")
    parser.add_argument("--binary", action="store_true",
                        help="two-class variant of the data set (paper's binary tasks)")
    parser.set_defaults(handler=run)


class _BadInput(Exception):
    pass


def _positive_int(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise _BadInput(f"{what} must be a positive integer (got {text!r})")
    return value


def _sparsity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or not 0 <= value < 1:
        raise _BadInput(f"--sparsity must be a number in [0, 1) (got {text!r})")
    return value


def _read_arch(path: str) -> Architecture:
    from search_engine.space import ArchitectureError, architecture_from_json

    p = Path(path)
    if not p.is_file():
        raise _BadInput(f"--arch: no such file: {path}")
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _BadInput(f"--arch: {path} is not valid JSON ({exc})") from exc
    try:
        return architecture_from_json(obj)
    except ArchitectureError as exc:
        raise _BadInput(f"--arch: invalid architecture: {exc}") from exc


def _print_progress(event: dict[str, Any]) -> None:
    stage = event.get("stage")
    if stage == "train":
        extra = ""
        if "val_accuracy" in event:
            extra = f"  val_accuracy {event['val_accuracy']:.4f}"
        print(
            f"epoch {event['epoch']}/{event['epochs']}  loss {event.get('loss', float('nan')):.4f}"
            f"  accuracy {event.get('accuracy', float('nan')):.4f}"
            f"  sparsity {event.get('sparsity', 0.0):.3f}{extra}"
            f"  ({event['seconds']:.2f} s, {event['samples_per_second']:.0f} samples/s)",
            flush=True,
        )
    elif stage == "materialise":
        print("materialising the pruned network ...", flush=True)
    elif stage == "convert":
        print("converting to int8 TFLite, memory-optimal operator order ...", flush=True)
    elif stage == "measure":
        print("measuring the smallest TFLM arena ...", flush=True)
    elif stage == "evaluate":
        print(f"evaluating int8 in TFLM on {event.get('samples')} test samples ...", flush=True)


def run(args: argparse.Namespace) -> int:
    """Validate the input, run the pipeline, print a summary."""
    try:
        sparsity = _sparsity(args.sparsity)
        limit = _positive_int(args.limit, "--limit")
        epochs = _positive_int(args.epochs, "--epochs")
        arch = _read_arch(args.arch)
        from search_engine.train.datasets import DatasetError, get_source
        from search_engine.train.profiles import ProfileError, get_profile

        try:
            get_source(args.dataset)
            profile = get_profile(args.dataset, args.profile)
        except (DatasetError, ProfileError) as exc:
            raise _BadInput(str(exc)) from exc
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise _BadInput(f"--out: {args.out} exists and is not a folder")
        from search_engine.space import ArchitectureError, SearchSpace
        from search_engine.train.datasets import load_dataset

        options = {} if args.path is None else {"path": args.path}
        try:
            dataset = load_dataset(
                args.dataset, data_dir=args.data_dir, binary=args.binary, seed=args.seed,
                limit=limit, **options,
            )
        except (DatasetError, OSError) as exc:
            raise _BadInput(str(exc)) from exc
        try:
            shape = cast("tuple[int, int, int]", tuple(dataset.input_shape))
            SearchSpace(shape, dataset.num_classes).validate(arch)
        except ArchitectureError as exc:
            raise _BadInput(f"--arch: invalid architecture for {dataset.name}: {exc}") from exc
    except _BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from search_engine.train.pipeline import PipelineError, train_and_export

    print(f"{dataset.describe()}; profile {profile.name}, sparsity {sparsity}, seed {args.seed}",
          flush=True)
    try:
        report = train_and_export(
            arch, sparsity, dataset, profile, seed=args.seed, out_dir=out,
            progress=_print_progress, epochs=epochs,
        )
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    agreement = report["agreement_int8"]
    print(
        f"val accuracy {report['val_accuracy']:.4f}, test accuracy {report['test_accuracy']:.4f}"
        f" (int8 in TFLM {report['test_accuracy_int8']:.4f}, agreement "
        f"{agreement if agreement is None else round(agreement, 4)})\n"
        f"params {report['params']}, model size {report['model_size_bytes']} B, .tflite "
        f"{report['tflite_bytes']} B, MACs {report['macs']}\n"
        f"peak memory {report['peak_memory_bytes']} B predicted (default order "
        f"{report['default_order_peak_bytes']} B), TFLM arena {report['tflm_arena_bytes']} B "
        f"measured (overhead {report['tflm_overhead_bytes']} B)\n"
        f"wrote {out / 'model.keras'}, model.tflite, model.h, report.json",
        flush=True,
    )
    return 0
