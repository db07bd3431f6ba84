"""``sample``: print a random canonical architecture as JSON (same seed, same output)."""

from __future__ import annotations

import argparse
import json
import random

from search_engine.cli import arguments
from search_engine.space import SearchSpace, architecture_to_json


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sample``."""
    parser = subparsers.add_parser(
        "sample",
        help="print a random architecture (JSON)",
        description="Print a uniformly random, valid, canonical architecture as JSON.",
    )
    parser.add_argument("--seed", type=arguments.seed, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--input-shape", type=arguments.input_shape, required=True, metavar="H,W,C",
        help="input shape, e.g. 28,28,1",
    )
    parser.add_argument(
        "--classes", type=arguments.num_classes, required=True, metavar="N",
        help="number of classes (>= 2)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Sample and print."""
    space = SearchSpace(args.input_shape, args.classes)
    arch = space.sample(random.Random(args.seed))
    print(json.dumps(architecture_to_json(arch), indent=2))
    return 0
