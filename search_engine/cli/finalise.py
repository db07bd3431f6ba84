"""``finalise``: retrain a CLI search's chosen candidates with the full training profile.

    python -m search_engine finalise --out DIR [--candidates 3 7] [--profile paper] \
        [--workers 2]

By default the feasible Pareto front of the search in ``DIR`` is finalised (see
``search_engine.search.finalise``): each candidate is trained again from scratch with the full
(paper) profile, exported and verified in TFLite Micro; its figures and files
(``DIR/candidates/final/<id>/``) replace the screening ones in ``DIR/search.json``, which keeps
the screening figures under ``screening``. Prints each candidate's screening and final figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from search_engine.cli import arguments


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "finalise", help="retrain the best candidates of a search with the full profile",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the search's output folder")
    parser.add_argument("--candidates", type=arguments.seed, nargs="+",
                        default=None, help="candidate ids, e.g. 3 7 (default: the feasible "
                        "Pareto front not finalised yet)")
    parser.add_argument("--top", type=arguments.positive_int, default=None,
                        help="only the K most accurate of the feasible front (default: all)")
    parser.add_argument("--profile", default="paper", help="final training profile "
                        "(default: paper)")
    parser.add_argument("--workers", type=arguments.positive_int, default=1)
    parser.add_argument("--evaluator", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def _figures(metrics: dict[str, Any]) -> str:
    def pct(key: str) -> str:
        value = metrics.get(key)
        return "–" if value is None else f"{100 * value:.1f}%"

    return (f"val {pct('val_accuracy')}, int8 test {pct('test_accuracy_int8')}, "
            f"SRAM {metrics.get('tflm_arena_bytes', '–')} B, "
            f"Flash {metrics.get('tflite_bytes', '–')} B")


def run(args: argparse.Namespace) -> int:
    from search_engine.cli.search import cli_context, decorate
    from search_engine.search import JsonFileStore, Search
    from search_engine.search.finalise import choose_targets, finalise_local
    from search_engine.search.setup import SetupError, build_precheck, open_space
    from search_engine.train.profiles import ProfileError, get_profile

    out = Path(args.out)
    store = JsonFileStore(out / "search.json", decorate=decorate)
    try:
        state = store.load()
        if state is None or "cli" not in state.extra:
            raise SetupError(f"no search.json of a CLI search in {out}")
        meta = state.extra["cli"]
        space, _, _ = open_space(meta["dataset"], meta["profile"], meta["data_dir"])
        get_profile(meta["dataset"], args.profile)
        search = Search(state, space, store, build_precheck(space, state.config.limits))
        targets = choose_targets(search, args.candidates, args.top)
    except (SetupError, ProfileError, ValueError) as exc:
        print(f"finalise: {exc}", file=sys.stderr)
        return 2
    if not targets:
        print("finalise: nothing to finalise (the feasible front is finalised already; name "
              "candidates with --candidates)", file=sys.stderr)
        return 0
    screening = {c.id: dict(c.metrics) for c in targets}

    def report(kind: str, candidate: Any, detail: str) -> None:
        if kind == "started":
            print(f"candidate {candidate.id}: training with the {args.profile} profile...",
                  file=sys.stderr, flush=True)
        elif kind == "failed":
            print(f"candidate {candidate.id}: final training failed ({detail}); it keeps its "
                  "screening figures", file=sys.stderr, flush=True)
        else:
            print(f"candidate {candidate.id}: screening {_figures(screening[candidate.id])}\n"
                  f"{' ' * (len(str(candidate.id)) + 11)}final     {_figures(candidate.metrics)}"
                  f"{'' if candidate.feasible else ' (now over a limit)'}",
                  file=sys.stderr, flush=True)

    try:
        done = finalise_local(search, cli_context(search, out), targets, profile=args.profile,
                              workers=args.workers, evaluator=args.evaluator, on_event=report,
                              log_path=str(out / "workers.log"))
    except KeyboardInterrupt:
        print("stopped; candidates finalised so far are saved", file=sys.stderr)
        return 130
    print(json.dumps({"finalised": done, "failed": sorted(set(screening) - set(done)),
                      "pareto_front": [c.id for c in search.front()]}))
    return 0 if len(done) == len(targets) else 1
