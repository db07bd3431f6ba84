"""``python -m search_engine.memory FILE``: the exact peak memory of a model, as JSON.

FILE is an op-graph JSON (DESIGN.md format; ops listed in a valid order), an architecture
JSON (recognised by its ``schema_version`` / ``blocks`` keys; needs ``--input-shape H,W,C``
and ``--classes N``) or a ``.tflite`` model (its stored operator order is the default order).
Loaders are chosen by file suffix from :data:`LOADERS`; other suffixes are read as JSON.

Output: one JSON object with ``peak_bytes`` (the optimal order's peak), ``order``,
``paper_peak_bytes`` (same order, graph inputs left out), ``timeline`` (one
``{"op", "tensors", "total"}`` per step), and the same for the listed order
(``default_peak_bytes``, ``default_paper_peak_bytes``, ``default_timeline``). With
``--order-only`` only ``peak_bytes`` and ``order``. Malformed input: exit status 2 and one
line on stderr naming the problem.

The search has a time budget (``--time-budget SECONDS``, default :data:`DEFAULT_TIME_BUDGET`;
0 means none). Series-parallel and fork-join graphs finish in milliseconds; if an irregular
graph does not, the output is the best order found, with ``"proven_optimal": false`` and
``"lower_bound_bytes"`` added, one line ``not proven optimal: best X bytes, lower bound Y
bytes`` on stderr, and exit status :data:`EXIT_NOT_PROVEN` (3). Exit statuses: 0 optimal,
2 bad input, 3 not proven optimal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from search_engine.graph.opgraph import OpGraph, OpGraphError
from search_engine.resources.peak_memory import default_profile, optimal_order

DEFAULT_TIME_BUDGET = 5.0  # seconds of search before the best order so far is returned
EXIT_NOT_PROVEN = 3  # the output holds the best order found and a proven lower bound


class InputError(Exception):
    """A user error: the message is printed as one line and the exit status is 2."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _parse_shape(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(
            f"--input-shape must be H,W,C with positive integers (got {text!r})"
        ) from None
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"--input-shape must be H,W,C with positive integers (got {text!r})")
    return shape


def _architecture_graph(obj: dict[str, Any], args: argparse.Namespace) -> OpGraph:
    if args.input_shape is None or args.classes is None:
        raise InputError(
            "an architecture JSON needs --input-shape H,W,C and --classes N to build its graph"
        )
    from search_engine.graph.builder import build_op_graph
    from search_engine.space import architecture_from_json

    try:
        arch = architecture_from_json(obj)
        return build_op_graph(arch, _parse_shape(args.input_shape), args.classes)
    except ValueError as error:  # ArchitectureError is a ValueError
        raise InputError(f"invalid architecture: {_one_line(error)}") from None


def load_json(path: Path, args: argparse.Namespace) -> OpGraph:
    """An op-graph JSON file, or an architecture JSON file built into its op graph."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not JSON (not UTF-8 text)") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path}: not JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    if isinstance(obj, dict) and ("schema_version" in obj or "blocks" in obj):
        return _architecture_graph(obj, args)
    try:
        return OpGraph.from_json(obj)
    except OpGraphError as error:
        raise InputError(f"{path}: invalid op graph: {_one_line(error)}") from None


def load_tflite(path: Path, args: argparse.Namespace) -> OpGraph:
    """A ``.tflite`` model via ``search_engine.export.tflite_graph`` (imported lazily)."""
    try:
        from search_engine.export.tflite_graph import load_tflite_op_graph
    except ImportError as error:
        raise InputError(f".tflite support is unavailable ({_one_line(error)})") from None
    try:
        return load_tflite_op_graph(path)
    except Exception as error:  # noqa: BLE001 - any parse failure is the file's problem
        raise InputError(f"{path}: cannot read the .tflite model: {_one_line(error)}") from None


LOADERS: dict[str, Callable[[Path, argparse.Namespace], OpGraph]] = {
    ".json": load_json,
    ".tflite": load_tflite,
}


def load_graph(path: Path, args: argparse.Namespace) -> OpGraph:
    """The op graph of ``path``, by suffix (unknown suffixes are read as JSON)."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    loader = LOADERS.get(path.suffix.lower(), load_json)
    return loader(path, args)


def analyse(graph: OpGraph, order_only: bool = False,
            time_budget: float | None = DEFAULT_TIME_BUDGET) -> dict[str, Any]:
    """The CLI's output object for ``graph`` (``time_budget`` in seconds, ``None``: none).
    When the budget ran out before the order was proven optimal, ``proven_optimal`` (False)
    and ``lower_bound_bytes`` are added."""
    try:
        best = optimal_order(graph, time_budget=time_budget)
        default = default_profile(graph)
    except OpGraphError as error:
        raise InputError(f"invalid op graph: {_one_line(error)}") from None
    proof = {} if best.proven_optimal else {"proven_optimal": False,
                                            "lower_bound_bytes": best.lower_bound_bytes}
    if order_only:
        return {"peak_bytes": best.peak_bytes, "order": list(best.order), **proof}
    return {**proof,
        "peak_bytes": best.peak_bytes,
        "paper_peak_bytes": best.paper_peak_bytes,
        "order": list(best.order),
        "default_peak_bytes": default.peak_bytes,
        "default_paper_peak_bytes": default.paper_peak_bytes,
        "timeline": [s.to_json() for s in best.timeline],
        "default_timeline": [s.to_json() for s in default.timeline],
    }


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, status 2
        self.exit(2, f"{self.prog}: error: {_one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m search_engine.memory",
        description="Exact peak memory (optimal execution order and timeline) of a model.",
    )
    parser.add_argument("file", metavar="FILE",
                        help="op-graph JSON, architecture JSON or .tflite model")
    parser.add_argument("--input-shape", metavar="H,W,C",
                        help="input shape, for an architecture JSON")
    parser.add_argument("--classes", type=int, metavar="N",
                        help="number of classes, for an architecture JSON")
    parser.add_argument("--order-only", action="store_true",
                        help="print only peak_bytes and the optimal order")
    parser.add_argument("--time-budget", type=_budget, default=DEFAULT_TIME_BUDGET,
                        metavar="SECONDS",
                        help=f"search time before the best order so far is returned with a "
                             f"lower bound and exit status {EXIT_NOT_PROVEN} (default "
                             f"{DEFAULT_TIME_BUDGET:g}; 0: no limit)")
    return parser


def _budget(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds (got {text!r})") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a non-negative number (got {text!r})")
    return None if value == 0 else value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        graph = load_graph(Path(args.file), args)
        result = analyse(graph, args.order_only, args.time_budget)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    if result.get("proven_optimal") is False:
        print(f"not proven optimal: best {result['peak_bytes']} bytes, lower bound "
              f"{result['lower_bound_bytes']} bytes", file=sys.stderr)
        return EXIT_NOT_PROVEN
    return 0


if __name__ == "__main__":
    sys.exit(main())
