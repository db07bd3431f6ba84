"""``search``: run a whole μNAS search from the terminal, stop it, resume it.

    python -m search_engine search --dataset digits --sram 4KB --flash 16KB --rounds 60 \
        --population 20 --sample 5 --profile quick --workers 2 --out DIR [--resume]

Writes ``DIR/search.json`` after every event (the whole state, plus each candidate's metrics
flattened under the training report's names) and each candidate's files under
``DIR/candidates/<id>/``; the workers' output (TensorFlow logging) goes to ``DIR/workers.log``.
Ctrl-C stops; ``--resume`` continues where it stopped. Exit status: 0 when done, 2 for bad
arguments, 130 when stopped, 1 when the search cannot go on or failed as a whole (candidates
were evaluated, every one failed and none was trained: ``Search.all_failed_reason``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from search_engine.cli import arguments
from search_engine.cli.progress import ProgressLine
from search_engine.cli.units import parse_bytes, parse_count

SUMMARY_FIELDS = ("id", "state", "pareto", "feasible")


def _bytes(what: str) -> Any:
    def parse(text: str) -> int:
        try:
            return parse_bytes(text, what)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _count(text: str) -> int:
    try:
        return parse_count(text, "macs")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _error(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected an error rate in (0, 1] (got {text!r})")
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``search``."""
    parser = subparsers.add_parser(
        "search", help="run (or resume) a μNAS search",
        description="Aging evolution (or random search) under the MCU's hard limits; every "
                    "trained candidate is exported and measured in TFLite Micro.")
    parser.add_argument("--dataset", default="digits", help="data set name (default digits)")
    parser.add_argument("--data-dir", default=None, help="folder holding local data sets")
    parser.add_argument("--sram", type=_bytes("sram"), help="SRAM limit, e.g. 64KB (required)")
    parser.add_argument("--flash", type=_bytes("flash"), help="Flash limit, e.g. 128KB (required)")
    parser.add_argument("--macs", type=_count, default=None, help="optional MAC limit, e.g. 500K")
    parser.add_argument("--error", type=_error, default=None,
                        help="optional target (soft bound) for the validation error, e.g. 0.1")
    parser.add_argument("--rounds", type=arguments.positive_int, default=60,
                        help="candidates to train in total, initial population included")
    parser.add_argument("--population", type=arguments.positive_int, default=20)
    parser.add_argument("--sample", type=arguments.positive_int, default=5)
    parser.add_argument("--profile", default="quick", help="training profile: quick or paper")
    parser.add_argument("--workers", type=arguments.positive_int, default=1)
    parser.add_argument("--strategy", choices=("evolution", "random"), default="evolution")
    parser.add_argument("--seed", type=arguments.seed, default=0)
    parser.add_argument("--no-references", dest="references", action="store_false",
                        help="do not seed the population with the reference family "
                             "(LeNet-/DS-CNN-like networks; see docs/search.md)")
    parser.add_argument("--no-early-stopping", dest="early_stopping", action="store_false",
                        help="train every child for the profile's full epochs (no rungs; "
                             "see docs/search.md, multi-fidelity)")
    parser.add_argument("--inherit", dest="inheritance", action="store_true",
                        help="children start from their parent's trained weights and train "
                             "--inherit-epochs of the profile (see docs/search.md)")
    parser.add_argument("--inherit-epochs", type=float, default=0.5, metavar="FRACTION",
                        help="with --inherit: the fraction of the profile's epochs an "
                             "inheriting child trains, in (0, 1] (default 0.5)")
    parser.add_argument("--time-budget", type=arguments.positive_int, default=None,
                        metavar="SECONDS", help="start no candidate after this many seconds "
                        "(those running finish; --resume goes on)")
    parser.add_argument("--limit", type=arguments.positive_int, default=None,
                        help="use at most this many samples per split (quick demos)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--resume", action="store_true", help="continue the search in --out")
    parser.add_argument("--evaluator", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def decorate(state: dict[str, Any]) -> dict[str, Any]:
    """Readers' view of the state: metrics flattened into each candidate, and a summary."""
    candidates = []
    for candidate in state["candidates"]:
        flat = {k: candidate[k] for k in SUMMARY_FIELDS}
        flat.update({k: v for k, v in candidate["metrics"].items() if k not in flat})
        flat.update(candidate)
        candidates.append(flat)
    front = [c["id"] for c in state["candidates"] if c["pareto"]]
    hv = state["hypervolume"][-1][1] if state["hypervolume"] else 0.0
    return dict(state, candidates=candidates,
                summary={"evaluated": sum(c["state"] in ("done", "failed")
                                          for c in state["candidates"]),
                         "failed": sum(c["state"] == "failed" for c in state["candidates"]),
                         "pareto_front": front, "hypervolume": hv,
                         "stopped_early": sum(bool(c["metrics"].get("stopped_early"))
                                              for c in state["candidates"]),
                         "rejected_before_training": state["rejected"]})


def cli_context(search: Any, out: Path) -> Any:
    """The evaluation context of a CLI search in ``out`` (from what its state remembers)."""
    from search_engine.search.local_runner import EvaluationContext

    meta = search.state.extra["cli"]
    options = {"input_shape": meta["input_shape"], "num_classes": meta["num_classes"]}
    if search.config.inheritance:  # trained weights, for children to start from
        options["weights_dir"] = str(out / "weights")
    return EvaluationContext(dataset=meta["dataset"], profile=meta["profile"],
                             seed=search.config.seed, out_dir=str(out / "candidates"),
                             data_dir=meta["data_dir"], limit=meta["limit"], options=options)


def run(args: argparse.Namespace) -> int:
    """Create or resume the search, then drive it with local workers."""
    from search_engine.search import HardLimits, JsonFileStore, Search, SearchConfig, SearchError
    from search_engine.search.local_runner import DEFAULT_EVALUATOR, run_local
    from search_engine.search.setup import SetupError, build_precheck, open_space

    out = Path(args.out)
    store = JsonFileStore(out / "search.json", decorate=decorate)
    try:
        if args.resume:
            previous = store.load()
            if previous is None:
                raise SetupError(f"--resume: no search.json in {out}")
            meta = previous.extra["cli"]
        else:
            if args.sram is None or args.flash is None:
                raise SetupError("--sram and --flash are required for a new search")
            if (out / "search.json").exists():
                raise SetupError(f"{out}/search.json exists: use --resume, or another --out")
            meta = {"dataset": args.dataset, "data_dir": args.data_dir, "profile": args.profile,
                    "limit": args.limit}
        space, dataset_info, profile = open_space(meta["dataset"], meta["profile"],
                                                  meta["data_dir"])
        if args.resume:
            search = Search.resume(space, store)
        else:
            limits = HardLimits(args.sram, args.flash, args.macs)
            config = SearchConfig(
                limits=limits, bounds=limits.default_soft_bounds(error=args.error),
                rounds=args.rounds, population=args.population, sample=args.sample,
                strategy=args.strategy, seed=args.seed, references=args.references,
                early_stopping=args.early_stopping, inheritance=args.inheritance,
                inherit_epochs=args.inherit_epochs,
                sparsity_range=tuple(profile.pruning.sparsity_range))
            search = Search.create(config, space, store)
            search.state.extra["cli"] = meta | {"input_shape": list(dataset_info.input_shape),
                                                "num_classes": dataset_info.num_classes}
            store.save(search.state)
        search.precheck = build_precheck(space, search.config.limits)
    except (SetupError, SearchError, ValueError) as exc:
        print(f"search: {exc}", file=sys.stderr)
        return 2

    context = cli_context(search, out)
    progress = ProgressLine(search)
    deadline = None if args.time_budget is None else time.monotonic() + args.time_budget
    try:
        run_local(search, context, workers=args.workers,
                  evaluator=args.evaluator or DEFAULT_EVALUATOR, on_event=progress.update,
                  log_path=str(out / "workers.log"), deadline=deadline)
    except KeyboardInterrupt:
        progress.close()
        print(f"stopped; resume with --resume --out {out}", file=sys.stderr)
        return 130
    except SearchError as exc:
        progress.close()
        print(f"search: {exc}", file=sys.stderr)
        return 1
    progress.close()
    if not search.finished:
        print(f"time budget used; resume with --resume --out {out}", file=sys.stderr)
    summary = decorate(search.state.to_json())["summary"]
    print(json.dumps(summary))
    reason = search.all_failed_reason()
    if reason is not None:  # nothing was trained: a failed search, as the web app ends it
        print(f"search failed: {reason} (every candidate's error is in "
              f"{out / 'search.json'})", file=sys.stderr)
        return 1
    return 0
