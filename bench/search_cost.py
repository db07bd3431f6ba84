"""Best feasible model against wall time: today's search, the old engine, random search.

    .venv/bin/python bench/search_cost.py [--dataset digits] [--budget 300] [--seeds 0 1 2]
        [--workers 2] [--sram 20KiB] [--flash 64KiB] [--arms new old random inherit] [--limit N]

Runs real searches (train with pruning, export int8, measure in TFLite Micro) with the quick
profile and the same limits, seeds and wall budget for every arm:

* ``new``: the default search (reference family first, aging evolution, early stopping at
  rungs; docs/search.md);
* ``old``: the engine before those changes: plain aging evolution from random draws, every
  child trained in full (``references=False, early_stopping=False``);
* ``random``: random search, every child trained in full;
* ``inherit``: ``new`` with weight inheritance (children start from their parent's weights
  and train half the profile's epochs; ``train.inherit``).

No candidate starts after the budget; those still training then are stopped (they would not
count). Prints, per arm,
the median over seeds of the best feasible validation error at fixed times, how many candidates
each arm screened per hour and how many it stopped early, the feasible hypervolume at the end
(against the hard limits, error up to 1), the time the new search took to reach
the old engine's final best, and the reference networks' own results (the baselines a user
would write by hand) with the search's candidates that beat them on every objective.
``--report`` summarises runs saved in ``--out`` without training. Writes
``--out/<dataset>/results.json`` and the curves as an SVG (``--plot``, default
``docs/search-cost-<dataset>.svg``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search_engine.cli.units import parse_bytes  # noqa: E402
from search_engine.search import HardLimits, JsonFileStore, Search, SearchConfig  # noqa: E402
from search_engine.search.engine import (  # noqa: E402
    feasible_hypervolume,
    hypervolume_reference,
)
from search_engine.search.fidelity import stopped_early  # noqa: E402
from search_engine.search.local_runner import EvaluationContext, run_local  # noqa: E402
from search_engine.search.objectives import OBJECTIVES  # noqa: E402
from search_engine.search.setup import build_precheck, open_space  # noqa: E402
from search_engine.search.state import DONE  # noqa: E402

ARMS = {
    "new": {"strategy": "evolution", "references": True, "early_stopping": True},
    "old": {"strategy": "evolution", "references": False, "early_stopping": False},
    "random": {"strategy": "random", "references": False, "early_stopping": False},
    "inherit": {"strategy": "evolution", "references": True, "early_stopping": True,
                "inheritance": True},
}
COLOURS = {"new": "#2456c9", "old": "#b3261e", "random": "#7a7f8c", "inherit": "#1b7f3b"}


def run_arm(arm: str, seed: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    space, shape, profile = open_space(args.dataset, args.profile, args.data_dir)
    limits = HardLimits(args.sram, args.flash)
    config = SearchConfig(limits=limits, bounds=limits.default_soft_bounds(),
                          rounds=args.rounds, population=args.population, sample=args.sample,
                          seed=seed, sparsity_range=tuple(profile.pruning.sparsity_range),
                          **ARMS[arm])
    folder = out / f"{arm}-s{seed}"
    if (folder / "search.json").exists():
        (folder / "search.json").unlink()
    search = Search.create(config, space, JsonFileStore(folder / "search.json"),
                           build_precheck(space, limits))
    context = EvaluationContext(dataset=args.dataset, profile=args.profile, seed=seed,
                                out_dir=str(folder / "candidates"), data_dir=args.data_dir,
                                limit=args.limit,
                                options={"input_shape": list(shape.input_shape),
                                         "num_classes": shape.num_classes,
                                         **({"weights_dir": str(folder / "weights")}
                                            if config.inheritance else {})})
    started = time.time()
    search.state.extra["bench_started_at"] = started
    t0 = time.monotonic()
    # candidates still training at the deadline do not count: stop their workers then (the
    # pool breaks, run_local requeues them and returns) rather than wait for them
    stopper = threading.Timer(args.budget + 1.0, _kill_workers)
    stopper.start()
    try:
        run_local(search, context, workers=args.workers, deadline=t0 + args.budget,
                  log_path=str(folder / "workers.log"))
    finally:
        stopper.cancel()
    wall = time.monotonic() - t0
    return summarise(search, started, args.budget, wall)


def _kill_workers() -> None:
    for child in multiprocessing.active_children():
        child.kill()


def load_arm(arm: str, seed: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The summary of a run saved in ``out`` (``--report``: no training)."""
    from search_engine.search import JsonFileStore

    state = JsonFileStore(out / f"{arm}-s{seed}" / "search.json").load()
    if state is None:
        raise SystemExit(f"no saved run {arm}-s{seed} in {out}")
    started = state.extra.get("bench_started_at") or min(
        c.timings["proposed_at"] for c in state.candidates)
    search = Search(state, None, None)  # type: ignore[arg-type]
    return summarise(search, started, args.budget, float("nan"))


def summarise(search: Search, started: float, budget: float, wall: float) -> dict[str, Any]:
    """The run's curve (finish time, best feasible error so far) and its counts."""
    done = sorted((c for c in search.state.candidates if c.state == DONE),
                  key=lambda c: c.timings["finished_at"])
    curve, best, best_record = [], None, None
    counted = 0
    for c in done:
        at = c.timings["finished_at"] - started
        if at > budget:
            continue
        counted += 1
        if c.feasible and not stopped_early(c.metrics):
            if best is None or c.objectives["error"] < best:
                best, best_record = c.objectives["error"], c
                curve.append((round(at, 1), best))
    epochs = sum(float(c.metrics.get("epochs_trained") or c.metrics.get("epochs") or 0)
                 for c in done)
    within = [c for c in done if c.timings["finished_at"] - started <= budget]
    trained = [c for c in within if c.feasible and not stopped_early(c.metrics)]
    hv = feasible_hypervolume(trained, hypervolume_reference(search.config))
    beaten = {}
    for ref in (c for c in trained if c.origin == "reference"):
        better = [c for c in trained if c.origin != "reference" and dominates(c, ref)]
        if better:
            best_by = min(better, key=lambda c: c.objectives["error"])
            beaten[ref.morphism.split(":", 1)[1]] = {
                "by": best_by.id, **{k: best_by.objectives[k] for k in OBJECTIVES},
                "reference": {k: ref.objectives[k] for k in OBJECTIVES}}
    references = {c.morphism.split(":", 1)[1]: {
        "val_error": c.objectives.get("error"), "feasible": c.feasible,
        "test_accuracy_int8": c.metrics.get("test_accuracy_int8"),
        "seconds": c.metrics.get("evaluation_seconds")}
        for c in done if c.origin == "reference"}
    return {
        "curve": curve, "best_error": best, "wall_seconds": round(wall, 1),
        "evaluated": counted, "stopped_early": sum(stopped_early(c.metrics) for c in done),
        "epochs_trained": epochs, "rejected": search.state.rejected,
        "per_hour": counted * 3600.0 / budget,
        "best": None if best_record is None else {
            "id": best_record.id, "origin": best_record.origin,
            "morphism": best_record.morphism,
            "test_accuracy_int8": best_record.metrics.get("test_accuracy_int8"),
            "sram_bytes": best_record.objectives["sram_bytes"],
            "flash_bytes": best_record.objectives["flash_bytes"],
            "macs": best_record.objectives["macs"]},
        "references": references, "hypervolume": hv, "references_dominated": beaten,
    }


def dominates(a: Any, b: Any) -> bool:
    """``a`` is at least as good as ``b`` on every objective and better on one."""
    x = [a.objectives[k] for k in OBJECTIVES]
    y = [b.objectives[k] for k in OBJECTIVES]
    return all(p <= q for p, q in zip(x, y, strict=True)) and x != y


def best_at(curve: list[tuple[float, float]], t: float) -> float | None:
    values = [err for at, err in curve if at <= t]
    return values[-1] if values else None


def time_to(curve: list[tuple[float, float]], error: float | None) -> float | None:
    if error is None:
        return None
    return next((at for at, err in curve if err <= error + 1e-12), None)


def median(values: list[float | None]) -> float | None:
    """Median (the lower middle value for an even count), a missing value (no feasible model
    yet) counting as the worst."""
    if not values:
        return None
    middle = statistics.median_low([float("inf") if v is None else v for v in values])
    return None if middle == float("inf") else middle


def pct(x: float | None) -> str:
    return "   –  " if x is None else f"{100 * x:5.1f}%"


def svg_plot(results: dict[str, dict[int, dict]], budget: float, title: str) -> str:
    """Step curves of best feasible validation error against wall time, one per run."""
    width, height, left, bottom, top, right = 640, 360, 56, 40, 28, 120
    errors = [e for runs in results.values() for r in runs.values() for _, e in r["curve"]]
    # up to 20% error (higher values are drawn at the top edge): the interesting part
    ymax = max(0.05, min(0.2, max(errors, default=0.2) * 1.1))

    def x(t: float) -> float:
        return left + (width - left - right) * t / budget

    def y(e: float) -> float:
        return top + (height - top - bottom) * (1 - min(e, ymax) / ymax)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="#fff"/>',
             f'<text x="{left}" y="16" font-size="13">{title}</text>']
    for i in range(6):
        e = ymax * i / 5
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(e):.1f}" y2="{y(e):.1f}" '
                     'stroke="#e3e6ee"/>')
        parts.append(f'<text x="{left - 6}" y="{y(e) + 4:.1f}" text-anchor="end">'
                     f'{100 * e:.1f}%</text>')
    for i in range(6):
        t = budget * i / 5
        parts.append(f'<text x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                     f'{t / 60:.1f} min</text>')
    middle = (top + height - bottom) / 2
    parts.append(f'<text x="12" y="{middle:.0f}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {middle:.0f})">best feasible val. error</text>')
    for k, (arm, runs) in enumerate(results.items()):
        colour = COLOURS.get(arm, "#333")
        for run in runs.values():
            points, last = [], None
            for at, err in run["curve"]:
                if last is not None:
                    points.append(f"{x(at):.1f},{y(last):.1f}")
                points.append(f"{x(at):.1f},{y(err):.1f}")
                last = err
            if last is not None:
                points.append(f"{x(budget):.1f},{y(last):.1f}")
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" '
                             f'stroke-opacity="0.85" points="{" ".join(points)}"/>')
        ly = top + 16 * k + 8
        parts.append(f'<line x1="{width - right + 10}" x2="{width - right + 30}" y1="{ly}" '
                     f'y2="{ly}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 34}" y="{ly + 4}">{arm}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--sram", type=parse_bytes, default=parse_bytes("20KiB"))
    parser.add_argument("--flash", type=parse_bytes, default=parse_bytes("64KiB"))
    parser.add_argument("--budget", type=float, default=300.0, help="wall seconds per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1000, help="candidate budget (large: "
                        "the wall budget ends the run)")
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--sample", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="samples per split")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "search_cost"))
    parser.add_argument("--report", action="store_true", help="no training: summarise the "
                        "runs saved in --out")
    parser.add_argument("--plot", default=None, help="SVG path (default docs/search-cost-"
                        "<dataset>.svg)")
    args = parser.parse_args()
    out = Path(args.out) / args.dataset
    out.mkdir(parents=True, exist_ok=True)

    results: dict[str, dict[int, dict]] = {arm: {} for arm in args.arms}
    for seed in args.seeds:
        for arm in args.arms:
            if args.report:
                results[arm][seed] = load_arm(arm, seed, args, out)
                continue
            print(f"running {arm} seed {seed} ({args.budget:.0f} s)...", file=sys.stderr,
                  flush=True)
            results[arm][seed] = run_arm(arm, seed, args, out)
            (out / "results.json").write_text(json.dumps(
                {"args": vars(args), "results": results}, indent=1))

    print(f"\n{args.dataset}, SRAM {args.sram} B, Flash {args.flash} B, {args.profile} profile, "
          f"{args.workers} workers, {args.budget:.0f} s per run, seeds {args.seeds}")
    marks = [args.budget * f for f in (0.2, 0.4, 0.6, 0.8, 1.0)]
    print("best feasible validation error (median over seeds) at wall time:")
    print("arm     " + "".join(f"{t:>9.0f}s" for t in marks) + "   screened/h  stopped  "
          "HV    per seed (final)")
    for arm, runs in results.items():
        row = [median([best_at(r["curve"], t) for r in runs.values()]) for t in marks]
        per_hour = statistics.median(r["per_hour"] for r in runs.values())
        stopped = sum(r["stopped_early"] for r in runs.values())
        finals = " ".join(pct(r["best_error"]).strip() for r in runs.values())
        hv = statistics.median(r["hypervolume"] for r in runs.values())
        print(f"{arm:8s}" + "".join(f"{pct(v):>10s}" for v in row)
              + f"   {per_hour:9.0f}  {stopped:7d}  {hv:.3f} {finals}")
    if "new" in results and "old" in results:
        print("\nnew search: time to reach the old engine's final best, per seed:")
        for seed in args.seeds:
            target = results["old"][seed]["best_error"]
            t = time_to(results["new"][seed]["curve"], target)
            print(f"  seed {seed}: old final {pct(target).strip()}, new reached it at "
                  + ("never" if t is None else f"{t:.0f} s ({t / args.budget:.0%} of the budget)"))
    if "new" in results:
        print("\nreference networks (trained by the new search with the same profile):")
        for seed, run in results["new"].items():
            refs = ", ".join(f"{name} {pct(r['val_error']).strip()}"
                             + ("" if r["feasible"] else " (over a limit)")
                             for name, r in run["references"].items())
            best = run["best"] or {}
            print(f"  seed {seed}: {refs}; search best #{best.get('id')} "
                  f"({best.get('morphism') or best.get('origin')}), int8 test "
                  f"{pct(best.get('test_accuracy_int8')).strip()}")
            for name, b in run["references_dominated"].items():
                r = b["reference"]
                print(f"    {name} beaten on every objective by #{b['by']}: error "
                      f"{pct(b['error']).strip()} vs {pct(r['error']).strip()}, SRAM "
                      f"{b['sram_bytes']:.0f} vs {r['sram_bytes']:.0f} B, Flash "
                      f"{b['flash_bytes']:.0f} vs {r['flash_bytes']:.0f} B, MACs "
                      f"{b['macs']:.0f} vs {r['macs']:.0f}")
    plot = Path(args.plot or ROOT / "docs" / f"search-cost-{args.dataset}.svg")
    plot.write_text(svg_plot(results, args.budget,
                             f"{args.dataset}: best feasible validation error vs wall time "
                             f"({args.workers} workers, seeds {args.seeds})"))
    print(f"\nresults: {out / 'results.json'}; plot: {plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
