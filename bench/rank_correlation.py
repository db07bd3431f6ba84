"""Does screening rank candidates as full training does? Spearman's rho over random networks.

    .venv/bin/python bench/rank_correlation.py [--dataset digits] [--archs 30] [--seed 0]
        [--sram 20KiB] [--flash 64KiB] [--limit N] [--workers 2] [--out DIR] [--report]

Draws ``--archs`` random architectures (with a target sparsity each, uniform in the profile's
range) that pass the search's pre-training check at the limits, i.e. the children a search at
those limits would train, and trains each twice with the same seed:

* with the screening profile (``quick``), measuring validation accuracy at the rungs the
  search's early stopping uses (1/9 and 1/3 of training: ``train.trainer.rung_steps``) and at
  the end;
* with the full profile (``paper``: the paper's epochs, learning rates and augmentation).

Prints Spearman's rho (SciPy) between each screening signal (rung 1, rung 2, end of screening)
and the full profile's validation accuracy, with a 90% bootstrap interval (2,000 resamples of
the architectures), and the time each profile took. The search relies on two of these: the
rungs (which children stop early) and the end of screening (which enter the population and the
front before finalisation). Target: rho >= 0.8.

Each training runs in a spawned worker process (TensorFlow is never loaded in this one); results
are appended to ``--out/<dataset>/results.jsonl`` as they arrive, and a rerun with the same
arguments trains only what is missing. ``--report`` prints from that file without training.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search_engine.cli.units import parse_bytes  # noqa: E402
from search_engine.search import HardLimits  # noqa: E402
from search_engine.search.setup import build_precheck, open_space  # noqa: E402

RUNG_FRACTIONS = (1 / 9, 1 / 3)  # the search's default (SearchConfig.rung_fractions)
SIGNALS = ("rung 1", "rung 2", "screening end")


class _NoCandidates:
    candidates: list = []


def draw_architectures(args: argparse.Namespace) -> list[dict[str, Any]]:
    """``args.archs`` random (architecture, sparsity) pairs that pass the pre-training check."""
    space, _, profile = open_space(args.dataset, "quick", args.data_dir)
    precheck = build_precheck(space, HardLimits(sram_bytes=args.sram, flash_bytes=args.flash))
    rng = random.Random(args.seed)
    lo, hi = profile.pruning.sparsity_range
    drawn: list[dict[str, Any]] = []
    tries = 0
    while len(drawn) < args.archs:
        tries += 1
        if tries > 200 * args.archs:
            raise SystemExit(f"only {len(drawn)} of {tries} random draws fit the limits")
        arch, sparsity = space.sample(rng), round(rng.uniform(lo, hi), 4)
        check = precheck(arch, sparsity, _NoCandidates())
        if check.fits:
            drawn.append({"index": len(drawn), "architecture": arch, "sparsity": sparsity,
                          "macs": check.estimates["macs"],
                          "model_size_bytes": check.estimates["model_size_bytes"]})
    return drawn


def _train(job: dict[str, Any]) -> dict[str, Any]:
    """One training in a worker process: validation accuracy at the rungs and at the end."""
    from search_engine.space import architecture_from_json
    from search_engine.train.datasets import load_dataset
    from search_engine.train.profiles import get_profile
    from search_engine.train.trainer import train_candidate

    dataset = load_dataset(job["dataset"], data_dir=job["data_dir"], seed=job["seed"],
                           limit=job["limit"])
    profile = get_profile(dataset.name, job["profile"])
    stopping = {"fractions": list(RUNG_FRACTIONS), "thresholds": {}}
    started = time.perf_counter()
    result = train_candidate(architecture_from_json(job["architecture"]), job["sparsity"],
                             dataset, profile, seed=job["seed"], stopping=stopping)
    return {"index": job["index"], "profile": job["profile"],
            "val_accuracy": result.val_accuracy, "rung_accuracy": result.rung_accuracy,
            "seconds": time.perf_counter() - started}


def load_results(path: Path) -> dict[tuple[int, str], dict[str, Any]]:
    results: dict[tuple[int, str], dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                results[(row["index"], row["profile"])] = row
    return results


def signals(screen: dict[str, Any]) -> dict[str, float]:
    rungs = sorted(screen["rung_accuracy"].items(), key=lambda kv: float(kv[0]))
    out = {name: acc for name, (_, acc) in zip(SIGNALS[:2], rungs, strict=False)}
    out["screening end"] = screen["val_accuracy"]
    return out


def spearman(x: list[float], y: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def bootstrap(x: list[float], y: list[float], seed: int, n: int = 2000) -> tuple[float, float]:
    """A 90% percentile interval of rho over resamples of the pairs."""
    rng = random.Random(seed)
    values = []
    for _ in range(n):
        pick = [rng.randrange(len(x)) for _ in x]
        xs, ys = [x[i] for i in pick], [y[i] for i in pick]
        if len(set(xs)) > 1 and len(set(ys)) > 1:
            values.append(spearman(xs, ys))
    values.sort()
    return values[int(0.05 * len(values))], values[int(0.95 * len(values)) - 1]


def report(args: argparse.Namespace, results: dict[tuple[int, str], dict[str, Any]]) -> None:
    pairs = [(results[(i, "quick")], results[(i, "paper")]) for i in range(args.archs)
             if (i, "quick") in results and (i, "paper") in results]
    print(f"\n{args.dataset}: {len(pairs)} random architectures within "
          f"{args.sram} B SRAM / {args.flash} B Flash, seed {args.seed}"
          + (f", {args.limit} samples per split" if args.limit else ""))
    if len(pairs) < 3:
        print("too few finished pairs for a correlation")
        return
    full = [p["val_accuracy"] for _, p in pairs]
    print(f"full profile: validation accuracy median {statistics.median(full):.3f} "
          f"(min {min(full):.3f}, max {max(full):.3f}); "
          f"median {statistics.median(p['seconds'] for _, p in pairs):.1f} s per network")
    print(f"screening profile: median {statistics.median(s['seconds'] for s, _ in pairs):.1f} s "
          "per network")
    print(f"{'signal':<15} {'rho':>6}  90% interval   median accuracy")
    for name in SIGNALS:
        rows = [(signals(s).get(name), p["val_accuracy"]) for s, p in pairs]
        rows = [(a, b) for a, b in rows if a is not None]
        if len(rows) < 3:
            continue
        x, y = [a for a, _ in rows], [b for _, b in rows]
        lo, hi = bootstrap(x, y, args.seed)
        print(f"{name:<15} {spearman(x, y):>6.3f}  [{lo:.3f}, {hi:.3f}]   "
              f"{statistics.median(x):.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--archs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sram", type=parse_bytes, default=parse_bytes("20KiB"))
    parser.add_argument("--flash", type=parse_bytes, default=parse_bytes("64KiB"))
    parser.add_argument("--limit", type=int, default=None, help="samples per split")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "rank_correlation"))
    parser.add_argument("--report", action="store_true", help="no training: print the results")
    args = parser.parse_args(argv)
    path = Path(args.out) / args.dataset / f"seed{args.seed}-limit{args.limit}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    results = load_results(path)
    if not args.report:
        drawn = draw_architectures(args)
        jobs = [dict(d, profile=profile, dataset=args.dataset, data_dir=args.data_dir,
                     seed=args.seed, limit=args.limit)
                for profile in ("quick", "paper") for d in drawn
                if (d["index"], profile) not in results]
        print(f"{len(jobs)} trainings to run on {args.workers} workers "
              f"({len(results)} already in {path})", flush=True)
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool, \
                path.open("a") as out:
            for row in pool.imap_unordered(_train, jobs):
                results[(row["index"], row["profile"])] = row
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"  #{row['index']} {row['profile']}: {row['val_accuracy']:.3f} "
                      f"({row['seconds']:.0f} s)", flush=True)
    report(args, results)


if __name__ == "__main__":
    main()
