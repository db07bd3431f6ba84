"""Aging evolution vs random search at equal budgets and seeds, and evaluation throughput.

    .venv/bin/python bench/search.py [--rounds 40] [--seeds 0 1 2] [--workers 2] ...

Runs real searches (train with pruning, export int8, measure in TFLite Micro) on digits with
the quick profile. For each seed, both strategies get the same budget, limits and seed. Prints
the hypervolume after every 5 evaluations (median over seeds), each run's final hypervolume,
and how many evaluations evolution needed to reach random search's final hypervolume (target:
at most half the budget). Then candidates evaluated per hour with 1 and with 2 workers, on a
short random search, in the same run. Everything is written under --out for inspection.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search_engine.search import (  # noqa: E402
    HardLimits,
    JsonFileStore,
    Search,
    SearchConfig,
    SoftBounds,
)
from search_engine.search.local_runner import EvaluationContext, run_local  # noqa: E402
from search_engine.search.setup import build_precheck, open_space  # noqa: E402


def run_search(strategy: str, seed: int, args: argparse.Namespace, out: Path,
               rounds: int, workers: int) -> Search:
    space, shape, profile = open_space(args.dataset, args.profile, None)
    limits = HardLimits(args.sram, args.flash)
    bounds = SoftBounds(error=args.error, sram_bytes=args.soft_sram or args.sram,
                        flash_bytes=args.soft_flash or args.flash)
    config = SearchConfig(limits=limits, bounds=bounds,
                          rounds=rounds, population=args.population, sample=args.sample,
                          strategy=strategy, seed=seed,
                          sparsity_range=tuple(profile.pruning.sparsity_range))
    store = JsonFileStore(out / "search.json")
    search = Search.create(config, space, store, build_precheck(space, limits))
    context = EvaluationContext(dataset=args.dataset, profile=args.profile, seed=seed,
                                out_dir=str(out / "candidates"), limit=args.limit,
                                options={"input_shape": list(shape.input_shape),
                                         "num_classes": shape.num_classes})
    return run_local(search, context, workers=workers, log_path=str(out / "workers.log"))


def hv_after(search: Search, n: int) -> float:
    value = 0.0
    for evaluated, hv in search.state.hypervolume:
        if evaluated <= n:
            value = hv
    return value


def evaluations_to_reach(search: Search, target: float) -> int | None:
    for evaluated, hv in search.state.hypervolume:
        if hv >= target - 1e-12:
            return evaluated
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--sample", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sram", type=int, default=32_000)
    parser.add_argument("--flash", type=int, default=64_000)
    parser.add_argument("--error", type=float, default=0.2)
    parser.add_argument("--soft-sram", type=int, default=None,
                        help="soft bound for SRAM (default: the hard limit)")
    parser.add_argument("--soft-flash", type=int, default=None,
                        help="soft bound for Flash (default: the hard limit)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--throughput-rounds", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "bench-out" / "search"))
    args = parser.parse_args()
    out = Path(args.out)

    print(f"# {args.dataset}, profile {args.profile}: SRAM {args.sram} B, Flash {args.flash} B, "
          f"error bound {args.error}, soft SRAM {args.soft_sram or args.sram} B, soft Flash "
          f"{args.soft_flash or args.flash} B; rounds {args.rounds}, population {args.population}, "
          f"sample {args.sample}, seeds {args.seeds}, {args.workers} workers")
    runs: dict[tuple[str, int], Search] = {}
    for seed in args.seeds:
        for strategy in ("evolution", "random"):
            started = time.monotonic()
            search = run_search(strategy, seed, args, out / f"{strategy}-{seed}", args.rounds,
                                args.workers)
            runs[(strategy, seed)] = search
            print(f"{strategy:9s} seed {seed}: final HV {search.current_hypervolume:.4f}, "
                  f"feasible {sum(c.feasible for c in search.state.candidates)}/{args.rounds}, "
                  f"refused before training {search.state.rejected}, "
                  f"{time.monotonic() - started:.0f} s", flush=True)

    print("\n# hypervolume after N evaluations (median over seeds)")
    print("    N   evolution   random")
    for n in range(5, args.rounds + 1, 5):
        evo = statistics.median(hv_after(runs[("evolution", s)], n) for s in args.seeds)
        rnd = statistics.median(hv_after(runs[("random", s)], n) for s in args.seeds)
        print(f"{n:5d}   {evo:9.4f}   {rnd:6.4f}")

    print("\n# evaluations evolution needs to reach random search's final hypervolume")
    fractions = []
    for seed in args.seeds:
        target = runs[("random", seed)].current_hypervolume
        needed = evaluations_to_reach(runs[("evolution", seed)], target)
        fraction = (needed if needed is not None else float("inf")) / args.rounds
        fractions.append(fraction)
        print(f"seed {seed}: random final HV {target:.4f}; evolution reaches it after "
              f"{needed if needed is not None else 'never'} of {args.rounds} "
              f"({fraction:.2f} of the budget)")
    evo_final = statistics.median(runs[("evolution", s)].current_hypervolume for s in args.seeds)
    rnd_final = statistics.median(runs[("random", s)].current_hypervolume for s in args.seeds)
    ratio = evo_final / rnd_final if rnd_final else float("inf")
    print(f"median final HV: evolution {evo_final:.4f}, random {rnd_final:.4f}, "
          f"ratio {ratio:.2f}; median budget fraction to match random: "
          f"{statistics.median(fractions):.2f} (target <= 0.50)")

    print("\n# throughput (random search, same limits)")
    rates = {}
    for workers in (1, 2):
        started = time.monotonic()
        run_search("random", 100 + workers, args, out / f"throughput-{workers}",
                   args.throughput_rounds, workers)
        elapsed = time.monotonic() - started
        rates[workers] = args.throughput_rounds / elapsed * 3600
        print(f"{workers} worker(s): {rates[workers]:.0f} candidates/hour "
              f"({args.throughput_rounds} in {elapsed:.0f} s)")
    print(f"speed-up with 2 workers: {rates[2] / rates[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
