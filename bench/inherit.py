"""Does a child trained from its parent's weights beat one trained from scratch, per epoch?

    .venv/bin/python bench/inherit.py [--dataset digits] [--children 6] [--fraction 0.5]
        [--sram 20KiB] [--flash 64KiB] [--limit N] [--workers 2] [--seed 0] [--report]

Trains parents (the reference family that fits the limits, as a search starts), then draws
``--children`` mutations of each (random morphisms of the search space that pass the search's
pre-training check: the children a search would train) and trains every child with the same
seed in four arms:

* ``scratch``: fresh initialisation, the whole screening profile (what the search does without
  inheritance);
* ``scratch-short``: fresh, the profile shortened to ``ceil(fraction * epochs)`` epochs
  (``profiles.shortened_profile``);
* ``inherit-short``: the parent's weights (``train.inherit``), the shortened profile (what the
  search does with ``--inherit``);
* ``inherit-short-lr/10``: the same with every learning rate divided by 10 (fine-tuning: does
  the profile's high initial rate wash the inherited weights out?).

``inherit-short`` against ``scratch-short`` is the comparison at equal compute; against
``scratch`` at half the compute. Prints the median validation accuracy and seconds per arm, the
paired differences (median, share of children where inheriting is at least as good), and the
same per morphism. Each training runs in a spawned worker (TensorFlow never loads here);
results go to ``--out/<dataset>/`` and a rerun trains only what is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search_engine.cli.units import parse_bytes  # noqa: E402
from search_engine.search import HardLimits  # noqa: E402
from search_engine.search.setup import build_precheck, open_space  # noqa: E402

ARMS = ("scratch", "scratch-short", "inherit-short", "inherit-short-lr/10")


class _NoCandidates:
    candidates: list = []


def _train(job: dict[str, Any]) -> dict[str, Any]:
    """One training in a worker process."""
    from search_engine.space import architecture_from_json
    from search_engine.train.datasets import load_dataset
    from search_engine.train.inherit import load_weights, save_weights
    from search_engine.train.profiles import get_profile, shortened_profile
    from search_engine.train.trainer import train_candidate

    dataset = load_dataset(job["dataset"], data_dir=job["data_dir"], seed=job["seed"],
                           limit=job["limit"])
    profile = get_profile(dataset.name, "quick")
    arm = job["arm"]
    if arm != "scratch":
        profile = shortened_profile(profile, max(1, math.ceil(job["fraction"] * profile.epochs)))
    if arm.endswith("lr/10"):
        profile = replace(profile, lr_schedule=tuple((e, lr / 10) for e, lr in
                                                     profile.lr_schedule))
    init = load_weights(job["parent_weights"]) if arm.startswith("inherit") else None
    arch = architecture_from_json(job["architecture"])
    started = time.perf_counter()
    result = train_candidate(arch, job["sparsity"], dataset, profile, seed=job["seed"],
                             init=init)
    seconds = time.perf_counter() - started
    if job.get("save_to"):
        save_weights(result.model, arch, tuple(dataset.input_shape), dataset.num_classes,
                     job["save_to"])
    return {"key": job["key"], "arm": arm, "val_accuracy": result.val_accuracy,
            "epochs": result.epochs, "seconds": seconds, "inheritance": result.inheritance}


def _run(jobs: list[dict[str, Any]], workers: int, path: Path,
         results: dict[str, dict[str, Any]]) -> None:
    if not jobs:
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool, path.open("a") as out:
        for row in pool.imap_unordered(_train, jobs):
            results[f"{row['key']}|{row['arm']}"] = row
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"  {row['key']} {row['arm']}: {row['val_accuracy']:.3f} "
                  f"({row['seconds']:.0f} s)", flush=True)


def _load(path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[f"{row['key']}|{row['arm']}"] = row
    return rows


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(children: list[dict[str, Any]], results: dict[str, dict[str, Any]]) -> None:
    done = [c for c in children if all(f"{c['key']}|{a}" in results for a in ARMS)]
    print(f"\n{len(done)} children with every arm trained")
    print(f"{'arm':22s} {'val acc (median)':>17s} {'seconds (median)':>17s}")
    for arm in ARMS:
        acc = [results[f"{c['key']}|{arm}"]["val_accuracy"] for c in done]
        sec = [results[f"{c['key']}|{arm}"]["seconds"] for c in done]
        print(f"{arm:22s} {_median(acc):17.4f} {_median(sec):17.1f}")
    pairs = (("inherit-short", "scratch-short"), ("inherit-short", "scratch"),
             ("inherit-short-lr/10", "scratch-short"), ("inherit-short-lr/10", "inherit-short"))
    print("\npaired difference in validation accuracy (median; share >= 0):")
    for a, b in pairs:
        diff = [results[f"{c['key']}|{a}"]["val_accuracy"]
                - results[f"{c['key']}|{b}"]["val_accuracy"] for c in done]
        share = sum(d >= 0 for d in diff) / len(diff) if diff else float("nan")
        print(f"  {a} - {b}: {_median(diff):+.4f} ({share:.0%})")
    print("\nper morphism: children, median (inherit-short - scratch-short), "
          "(inherit-short-lr/10 - scratch-short)")
    kinds = sorted({c["morphism"] for c in done})
    for kind in kinds:
        mine = [c for c in done if c["morphism"] == kind]
        d1 = [results[f"{c['key']}|inherit-short"]["val_accuracy"]
              - results[f"{c['key']}|scratch-short"]["val_accuracy"] for c in mine]
        d2 = [results[f"{c['key']}|inherit-short-lr/10"]["val_accuracy"]
              - results[f"{c['key']}|scratch-short"]["val_accuracy"] for c in mine]
        print(f"  {kind:20s} {len(mine):3d} {_median(d1):+.4f} {_median(d2):+.4f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--children", type=int, default=6, help="mutations per parent")
    parser.add_argument("--fraction", type=float, default=0.5,
                        help="epochs of the short arms, a fraction of the profile's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sram", type=parse_bytes, default=parse_bytes("20KiB"))
    parser.add_argument("--flash", type=parse_bytes, default=parse_bytes("64KiB"))
    parser.add_argument("--limit", type=int, default=None, help="samples per split")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "inherit"))
    parser.add_argument("--report", action="store_true", help="no training: print the results")
    args = parser.parse_args(argv)
    folder = Path(args.out) / args.dataset / f"seed{args.seed}-limit{args.limit}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.jsonl"
    results = _load(path)

    space, _, profile = open_space(args.dataset, "quick", args.data_dir)
    precheck = build_precheck(space, HardLimits(sram_bytes=args.sram, flash_bytes=args.flash))
    lo, _ = profile.pruning.sparsity_range
    parents = [{"key": f"p-{name}", "architecture": arch, "sparsity": lo, "name": name}
               for name, arch in space.references()
               if precheck(arch, lo, _NoCandidates()).fits]
    if not parents:
        raise SystemExit("no reference network fits the limits")
    common = dict(dataset=args.dataset, data_dir=args.data_dir, seed=args.seed,
                  limit=args.limit, fraction=args.fraction)
    for p in parents:
        p["weights"] = str(folder / f"{p['key']}.npz")
    if not args.report:
        jobs = [dict(common, key=p["key"], arm="scratch", architecture=p["architecture"],
                     sparsity=p["sparsity"], save_to=p["weights"])
                for p in parents
                if f"{p['key']}|scratch" not in results or not Path(p["weights"]).exists()]
        print(f"training {len(jobs)} parents", flush=True)
        _run(jobs, args.workers, path, results)

    rng = random.Random(args.seed)
    children = []
    for p in parents:
        made = 0
        for _ in range(200 * args.children):
            if made == args.children:
                break
            child, morphism = space.mutate(p["architecture"], rng)
            if precheck(child, p["sparsity"], _NoCandidates()).fits:
                children.append({"key": f"{p['key']}-c{made}", "architecture": child,
                                 "sparsity": p["sparsity"], "morphism": morphism,
                                 "parent_weights": p["weights"]})
                made += 1
    if not args.report:
        jobs = [dict(common, **c, arm=arm) for c in children for arm in ARMS
                if f"{c['key']}|{arm}" not in results]
        print(f"{len(jobs)} child trainings on {args.workers} workers", flush=True)
        _run(jobs, args.workers, path, results)
    print(f"\n{args.dataset}, quick profile, short arms {args.fraction} of its epochs, "
          f"{len(parents)} parents ({', '.join(p['name'] for p in parents)}), seed {args.seed}")
    for p in parents:
        row = results.get(f"{p['key']}|scratch")
        if row:
            print(f"  parent {p['name']}: {row['val_accuracy']:.4f}")
    report(children, results)


if __name__ == "__main__":
    main()
