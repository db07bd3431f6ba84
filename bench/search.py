"""Aging evolution vs random search at equal budgets and seeds, and evaluation throughput.

    .venv/bin/python bench/search.py [--rounds 100] [--seeds 0 1 2] [--workers 2] [--reuse] ...

Runs real searches (train with pruning, export int8, measure in TFLite Micro) on digits with the
quick profile; by default under 8 kB SRAM / 16 kB Flash, limits that bind as on a small MCU
(results for these and for loose limits: docs/search.md). For each seed, both strategies get the
same budget, limits, bounds and seed (so the same random initial population). Prints the
hypervolume after every 10 evaluations (median over seeds), each run's final hypervolume, and
how many evaluations evolution needed to reach random search's final hypervolume (target: at
most half the budget).

Hypervolumes are shown in two boxes: the search's own, against the user's bounds (error target,
SRAM and Flash soft bounds; what the engine tracks and the dashboard plots), and the device
box (error up to 1, SRAM and Flash up to the hard limits), which ignores the error target.

Then candidates evaluated per hour with 1 and with 2 workers, on a short random search, in the
same run. Everything is written under --out; ``--reuse`` picks up runs there that have the same
settings (finishing an interrupted one, or extending a finished one to a larger --rounds: the
proposals do not depend on the budget, so that equals a fresh run with the larger budget).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
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
from search_engine.search.engine import (  # noqa: E402
    feasible_hypervolume,
    hypervolume_reference,
)
from search_engine.search.local_runner import EvaluationContext, run_local  # noqa: E402
from search_engine.search.setup import build_precheck, open_space  # noqa: E402
from search_engine.search.state import DONE, FAILED  # noqa: E402

STEP = 10  # evaluations between rows of the hypervolume table


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
    previous = store.load() if args.reuse else None
    if (previous is not None and previous.config.rounds <= rounds
            and dataclasses.replace(previous.config, rounds=rounds) == config):
        # the same run was started earlier: keep what it evaluated, finish or extend it
        search = Search.resume(space, store, build_precheck(space, limits))
        search.state.config = config
    else:
        search = Search.create(config, space, store, build_precheck(space, limits))
    context = EvaluationContext(dataset=args.dataset, profile=args.profile, seed=seed,
                                out_dir=str(out / "candidates"), limit=args.limit,
                                options={"input_shape": list(shape.input_shape),
                                         "num_classes": shape.num_classes})
    return run_local(search, context, workers=workers, log_path=str(out / "workers.log"))


def device_reference(config: SearchConfig) -> dict[str, float]:
    """The device box: error up to 1, SRAM and Flash up to the hard limits."""
    return {"error": 1.0, "sram_bytes": float(config.limits.sram_bytes),
            "flash_bytes": float(config.limits.flash_bytes)}


def hv_curve(search: Search, reference: dict[str, float]) -> list[float]:
    """Hypervolume of the feasible candidates after each evaluation, in completion order."""
    finished = sorted((c for c in search.state.candidates if c.state in (DONE, FAILED)),
                      key=lambda c: (c.timings.get("finished_at", 0.0), c.id))
    return [feasible_hypervolume(finished[:n], reference)  # failed ones are never feasible
            for n in range(1, len(finished) + 1)]


def evaluations_to_reach(curve: list[float], target: float) -> int | None:
    for evaluated, value in enumerate(curve, start=1):
        if value >= target - 1e-12:
            return evaluated
    return None


def compare(runs: dict[tuple[str, int], Search], seeds: list[int], rounds: int, title: str,
            reference_of: Callable[[SearchConfig], dict[str, float]]) -> None:
    """Print the table and the evaluations needed for one box."""
    curves = {key: hv_curve(search, reference_of(search.config)) for key, search in runs.items()}
    print(f"\n# {title}: hypervolume after N evaluations (median over seeds)")
    print("    N   evolution   random")
    for n in range(STEP, rounds + 1, STEP):
        evo = statistics.median(curves[("evolution", s)][n - 1] for s in seeds)
        rnd = statistics.median(curves[("random", s)][n - 1] for s in seeds)
        print(f"{n:5d}   {evo:9.4f}   {rnd:6.4f}")
    fractions = []
    for seed in seeds:
        target = curves[("random", seed)][-1]
        needed = evaluations_to_reach(curves[("evolution", seed)], target)
        fractions.append((needed if needed is not None else float("inf")) / rounds)
        print(f"seed {seed}: random's final {target:.4f}, evolution's final "
              f"{curves[('evolution', seed)][-1]:.4f}; evolution reaches random's final after "
              f"{needed if needed is not None else 'never'} of {rounds} "
              f"({fractions[-1]:.2f} of the budget)")
    evo_final = statistics.median(curves[("evolution", s)][-1] for s in seeds)
    rnd_final = statistics.median(curves[("random", s)][-1] for s in seeds)
    print(f"median final: evolution {evo_final:.4f}, random {rnd_final:.4f}, ratio "
          f"{evo_final / rnd_final if rnd_final else float('inf'):.2f}; median budget fraction "
          f"to match random: {statistics.median(fractions):.2f} (target <= 0.50)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--sample", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sram", type=int, default=8_000)
    parser.add_argument("--flash", type=int, default=16_000)
    parser.add_argument("--error", type=float, default=0.2)
    parser.add_argument("--soft-sram", type=int, default=None,
                        help="soft bound for SRAM (default: the hard limit)")
    parser.add_argument("--soft-flash", type=int, default=None,
                        help="soft bound for Flash (default: the hard limit)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--throughput-rounds", type=int, default=12,
                        help="budget of each throughput run (0 skips the throughput part)")
    parser.add_argument("--out", default=str(ROOT / "bench-out" / "search"))
    parser.add_argument("--reuse", action="store_true",
                        help="reuse (and finish) runs under --out that have the same settings")
    args = parser.parse_args()
    out = Path(args.out)

    print(f"# {args.dataset}, profile {args.profile}: SRAM {args.sram} B, Flash {args.flash} B, "
          f"error bound {args.error}, soft SRAM {args.soft_sram or args.sram} B, soft Flash "
          f"{args.soft_flash or args.flash} B; rounds {args.rounds}, population {args.population}, "
          f"sample {args.sample}, seeds {args.seeds}, {args.workers} workers")
    runs: dict[tuple[str, int], Search] = {}
    for seed in args.seeds:
        for strategy in ("random", "evolution"):
            started = time.monotonic()
            search = run_search(strategy, seed, args, out / f"{strategy}-{seed}", args.rounds,
                                args.workers)
            runs[(strategy, seed)] = search
            final = hv_curve(search, hypervolume_reference(search.config))[-1]
            trained = [c for c in search.state.candidates if c.state == DONE]
            over = sum(not c.feasible for c in trained)
            print(f"{strategy:9s} seed {seed}: final HV {final:.4f}, feasible "
                  f"{len(trained) - over}/{args.rounds} (trained but over a limit: {over}), "
                  f"refused before training {search.state.rejected}, "
                  f"{time.monotonic() - started:.0f} s this time", flush=True)

    compare(runs, args.seeds, args.rounds, "against the user's bounds (the search's own)",
            hypervolume_reference)
    compare(runs, args.seeds, args.rounds, "device box (error to 1, hard limits)",
            device_reference)

    if args.throughput_rounds <= 0:
        return 0
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
