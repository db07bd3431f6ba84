"""The fast exact path: hill-valley units, priority normal form, and a small bottleneck search.

**Job model.** Each op becomes a job with a *hill* ``h`` (its step's working set minus the
live bytes before it: its output) and a *net change* ``d`` (its output if it stays alive,
minus the inputs it is the only reader of). A tensor read by several ops (the shared input of
a fork-join stage, or any multi-reader tensor) gets a virtual *release* job ``(h=0, d=-size)``
that must follow all its readers; readers do not free it. Running a release right after the
last reader reproduces our semantics exactly, and moving a release earlier never hurts
(swapping ``Z R`` to ``R Z`` turns ``max(h_Z, d_Z)`` into ``max(0, h_Z - size)``), so the best
schedule of jobs has the same peak as the best op order. Every job now has a context-free
``(h, d)``: the peak of a sequence is ``max_i (base + sum of earlier d + h_i)``. This is the
"hill-valley" model of Liu (1986-87) and Kayaaslan, Lambert, Marchal & Uçar (2018); the
shared-input and binary-add details of our stages become ordinary jobs.

**Priority.** For two independent jobs, ``X`` before ``Y`` is never worse than the reverse
when ``X`` comes first in this total preorder: jobs that free memory (``d < 0``) first, by
increasing ``h``; then the others by decreasing ``h - d`` (the classical rule; checked case
by case in ``docs/peak-memory.md``).

**Segments.** Where job ``X``'s only successor is ``Y`` and ``Y``'s only predecessor is
``X``, and ``Y`` has priority at least ``X``'s, some optimal schedule runs ``Y`` right after
``X`` (jobs ``Z`` between them move before ``X`` if they outrank it, else after ``Y``, which
outranks them), so they merge into one unit ``(max(h_X, d_X + h_Y), d_X + d_Y)``. Merging
along chains with a stack yields Liu's hill-valley segments: priorities non-increasing along
each chain.

**Normal form.** Swapping adjacent independent units into priority order never hurts, and
bubble sort terminates, so some optimal schedule has every adjacent independent pair in
priority order ("locally sorted"). The search below explores only such schedules: after
unit ``u``, the next unit is one that depends on ``u`` or ranks below it. A unit that frees
memory and fits under the bound runs at once (dominance); the constraint is then dropped.

**Bounds and search.** Lower bounds come from minimum-weight closures (:mod:`closure_bound`):
per unit, and jointly over the likely bottleneck units plus the shared-input release (whatever
order they run in). Upper bounds: the priority-greedy schedule, the greedy aimed at the lower
bound, and schedules that first run the down-set minimising the memory before a bottleneck.
If they meet, that is the answer. Otherwise a memoised minimum-bottleneck A* over (finished
units, last unit) runs, refining each popped state with the closure bounds from that state;
if a short first search does not finish, the root bound is widened to more bottleneck units
and the search runs to the end. The result is exact whenever it returns; the bounds only
decide how much is searched. Unused starting tensors (freed after the first step whichever op
it is) do not fit the job model; :func:`units_order` returns ``None`` and the caller uses the
general DP.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

from search_engine.resources.closure_bound import ClosureBound
from search_engine.resources.schedule_problem import Problem

REFINE = 3  # how many likely-bottleneck units get a state-dependent closure bound
JOINT = 3  # how many of them get the joint (order-aware) bound at the root ...
SEARCH_JOINT = 3  # ... and from each state of the search
JOINT_MAX = 5  # ... and at the root, growing from JOINT when a first search is not enough
FIRST_BUDGET = 60  # pops of that first search
RELEASES = 1  # ... together with this many release units (shared inputs)


_UNSET = float("inf")


def _finite(bound: float) -> int:
    """A bound as an int (an infinite bound, from an impossible order, bounds nothing)."""
    return 0 if bound == _UNSET else int(bound)


@dataclass(frozen=True)
class Unit:
    """A job or a merged segment of jobs: ``ops`` (op indices; empty for a release)."""

    h: int
    d: int
    ops: tuple[int, ...]
    lb: int


def priority(h: int, d: int) -> tuple[int, int]:
    """Sort key of a job: smaller runs first (freeing jobs by hill, then by hill - d desc)."""
    return (0, h) if d < 0 else (1, d - h)


def compose(a: Unit, b: Unit) -> Unit:
    """``a`` then ``b`` as one unit."""
    return Unit(max(a.h, a.d + b.h), a.d + b.d, a.ops + b.ops, max(a.lb, b.lb))


def build_jobs(problem: Problem) -> tuple[list[Unit], list[set[int]], int] | None:
    """The job model of ``problem``: (jobs, predecessor job indices of each job, starting
    live bytes); jobs ``0..n-1`` are the ops, then one release job per multi-reader tensor.
    ``None`` where the model does not apply (an unused, unpinned starting tensor of non-zero
    size)."""
    sizes = problem.sizes
    pinned = problem.pinned
    readers = problem.readers
    for t in problem.initial:
        if not readers[t] and t not in pinned and sizes[t]:
            return None
    n = problem.n
    jobs: list[Unit] = []
    preds: list[set[int]] = []
    for v in range(n):
        out = problem.writes[v]
        d = sizes[out] if (out in pinned or readers[out]) else 0
        for t in problem.reads[v]:
            if t not in pinned and readers[t] == 1 << v:
                d -= sizes[t]
        jobs.append(Unit(sizes[out], d, (v,), problem.static_lower_bound(v)))
        p = problem.preds[v]
        preds.append({j for j in range(n) if p >> j & 1})
    for t, r in enumerate(readers):
        if t in pinned or not sizes[t] or r & (r - 1) == 0:
            continue  # pinned, empty, or at most one reader: that reader frees it
        jobs.append(Unit(0, -sizes[t], (), 0))
        preds.append({j for j in range(n) if r >> j & 1})
    return jobs, preds, problem.live_bytes(0)


def build_units(problem: Problem) -> tuple[list[Unit], list[int], int] | None:
    """(units, predecessor bitmask of each unit, starting live bytes), or ``None`` where the
    job model does not apply (an unused, unpinned starting tensor of non-zero size)."""
    built = build_jobs(problem)
    if built is None:
        return None
    jobs, preds, base0 = built
    succs: list[set[int]] = [set() for _ in jobs]
    for j, ps in enumerate(preds):
        for p in ps:
            succs[p].add(j)

    # Merge along link chains (X's only successor is Y, Y's only predecessor is X).
    def links_to(x: int) -> int | None:
        if len(succs[x]) == 1:
            (y,) = succs[x]
            if len(preds[y]) == 1:
                return y
        return None

    heads = [j for j in range(len(jobs)) if not (len(preds[j]) == 1 and
                                                 links_to(next(iter(preds[j]))) == j)]
    group_of = [-1] * len(jobs)
    units: list[Unit] = []
    first_job: list[int] = []
    last_job: list[int] = []
    for head in heads:
        path = [head]
        while (nxt := links_to(path[-1])) is not None:
            path.append(nxt)
        stack: list[tuple[Unit, list[int]]] = []
        for j in path:
            stack.append((jobs[j], [j]))
            while len(stack) >= 2 and priority(stack[-1][0].h, stack[-1][0].d) <= priority(
                stack[-2][0].h, stack[-2][0].d
            ):
                b, jb = stack.pop()
                a, ja = stack.pop()
                stack.append((compose(a, b), ja + jb))
        for unit, members in stack:
            for j in members:
                group_of[j] = len(units)
            units.append(unit)
            first_job.append(members[0])
            last_job.append(members[-1])
    pred_masks = []
    for u in range(len(units)):
        mask = 0
        for p in preds[first_job[u]]:
            mask |= 1 << group_of[p]
        pred_masks.append(mask)
    return units, pred_masks, base0


def units_order(problem: Problem) -> tuple[int, list[int]] | None:
    """(minimum peak bytes, an optimal order of op indices), or ``None`` where the job model
    does not apply (see :func:`build_units`)."""
    found = units_schedule(problem)
    return None if found is None else (found[0], found[1])


def units_schedule(problem: Problem, deadline: float | None = None
                   ) -> tuple[int, list[int], int] | None:
    """(best peak found, its order, a proven lower bound), or ``None`` where the job model
    does not apply. Without ``deadline`` (a ``time.perf_counter()`` value) the search runs to
    the end and the bound equals the peak; past it, the search stops with its best schedule
    and the root lower bound."""
    built = build_units(problem)
    if built is None:
        return None
    units, pred_masks, base0 = built
    m = len(units)
    if m == 0:
        return 0, [], 0
    full = (1 << m) - 1
    ranked = sorted(range(m), key=lambda u: (priority(units[u].h, units[u].d), units[u].d,
                                             units[u].ops))
    rank = [0] * m
    for r, u in enumerate(ranked):
        rank[u] = r
    hs = [u.h for u in units]
    ds = [u.d for u in units]
    closure = ClosureBound(hs, ds, pred_masks, base0)
    lbs = [max(u.lb, c) for u, c in zip(units, closure.global_bounds, strict=True)]
    lb_global = max(lbs)
    by_lb = sorted(range(m), key=lambda u: -lbs[u])
    releases = [u for u in range(m) if not units[u].ops]
    heavy = [u for u in by_lb if units[u].ops]

    def lb_rest(done: int) -> int:
        """Lower bound on any completion of ``done`` (every schedule is >= lb_global)."""
        for u in by_lb:
            if not done >> u & 1:
                return lbs[u] if lbs[u] > lb_global else lb_global
        return lb_global

    def greedy(phases: list[int]) -> tuple[int, list[int]]:
        """Peak and sequence of the priority-greedy schedule that runs the units of each
        down-set in ``phases`` (nested, the last one full) before the next."""
        done, base, peak, seq = 0, base0, 0, []
        for allowed in phases:
            while done != allowed:
                u = min((v for v in range(m) if allowed >> v & 1 and not done >> v & 1
                         and not pred_masks[v] & ~done), key=rank.__getitem__)
                peak = max(peak, base + hs[u])
                base += ds[u]
                done |= 1 << u
                seq.append(u)
        return peak, seq

    def aimed(target: int) -> tuple[int, list[int]]:
        """Priority-greedy among the units whose step fits under ``target``; the cheapest
        step when none fits."""
        done, base, peak, seq = 0, base0, 0, []
        while done != full:
            avail = [v for v in range(m) if not done >> v & 1 and not pred_masks[v] & ~done]
            fitting = [v for v in avail if base + hs[v] <= target]
            u = (min(fitting, key=rank.__getitem__) if fitting
                 else min(avail, key=lambda v: (hs[v], rank[v])))
            peak = max(peak, base + hs[u])
            base += ds[u]
            done |= 1 << u
            seq.append(u)
        return peak, seq

    # Upper bounds: the priority-greedy schedule, the greedy aimed at the lower bound, and for
    # the likely bottleneck units ``x`` the schedule that first runs the down-set minimising
    # the memory before ``x``. Lower bound: the joint bound over more and more of the likely
    # bottlenecks (and the shared-input release), until the two bounds meet.
    upper, best_seq = greedy([full])
    for x in heavy[:REFINE]:
        if upper <= lb_global:
            break
        _, before = closure.before(x, 0)
        peak, seq = greedy([before, before | 1 << x, full])
        if peak < upper:
            upper, best_seq = peak, seq
    if upper > lb_global:
        top = heavy[:JOINT] + releases[:RELEASES]
        if len(top) > 1:  # the likely bottlenecks cannot all run at their best moment
            lb_global = max(lb_global, _finite(closure.set_bound(top, 0)))
        peak, seq = aimed(lb_global)
        if peak < upper:
            upper, best_seq = peak, seq
    if upper <= lb_global:
        return upper, [op for u in best_seq for op in units[u].ops], upper

    def refined(done: int) -> int:
        """The closure bound from state ``done`` for the few units with the largest global
        bounds still to run (the likely bottlenecks)."""
        pending = []
        for u in by_lb:
            if not done >> u & 1 and units[u].ops:
                pending.append(u)
                if len(pending) == REFINE:
                    break
        joint = pending[:SEARCH_JOINT] + [u for u in releases[:RELEASES] if not done >> u & 1]
        out = closure.set_bound(joint, done) if joint else 0
        for u in pending[SEARCH_JOINT:]:
            out = max(out, closure.bound(u, done))
        return _finite(out)

    timed_out = False

    def search(budget: float) -> bool:
        """The A* below; False if it ran out of ``budget`` pops before finishing (``upper``
        and ``best_seq`` then hold the best schedule found so far)."""
        nonlocal upper, best_seq
        # States are (finished units, last unit or -1 for "no constraint"). Entries are
        # pushed with a cheap bound and refined with state-dependent bounds when popped.
        best: dict[tuple[int, int], int] = {(0, -1): -1}
        parent: dict[tuple[int, int], tuple[tuple[int, int], int]] = {}
        heap = [(lb_rest(0), 0, 0, 0, -1, -1, base0, False)]
        pops = 0
        while heap:
            pops += 1
            if pops > budget:
                return False
            if deadline is not None and pops % 16 == 0 and time.perf_counter() > deadline:
                nonlocal timed_out
                timed_out = True
                return False
            f, negdepth, tie, done, last, g, base, exact = heapq.heappop(heap)
            if f >= upper:
                break
            if g > best[(done, last)]:
                continue
            if done == full:
                seq = []
                state = (done, last)
                while state[0]:
                    state, u = parent[state]
                    seq.append(u)
                seq.reverse()
                upper, best_seq = g, seq
                break
            if not exact:
                f2 = refined(done)
                if f2 > f:
                    if f2 < upper:
                        heapq.heappush(heap, (f2, negdepth, tie, done, last, g, base, True))
                    continue
            avail = [v for v in range(m) if not done >> v & 1 and not pred_masks[v] & ~done]
            threshold = g if g >= lb_global else lb_global
            moves = None
            for v in avail:
                if ds[v] <= 0 and base + hs[v] <= threshold:
                    moves = [(v, -1)]  # dominance: a unit that frees memory and fits runs now
                    break
            if moves is None:
                last_rank = rank[last] if last >= 0 else -1
                moves = [(v, v) for v in avail
                         if rank[v] > last_rank or pred_masks[v] >> last & 1]
            for v, constraint in moves:
                cost = base + hs[v]
                ng = g if g >= cost else cost
                if ng >= upper:
                    continue
                key = (done | 1 << v, constraint)
                if ng < best.get(key, _UNSET) and ng < best.get((key[0], -1), _UNSET):
                    rest = lb_rest(key[0])
                    f = ng if ng >= rest else rest
                    if f >= upper:
                        continue
                    best[key] = ng
                    parent[key] = ((done, last), v)
                    heapq.heappush(heap, (f, negdepth - 1, rank[v], key[0], constraint, ng,
                                          base + ds[v], False))
        return True

    # A short search first; if it does not finish, tighten the root bound with the joint
    # bound over more likely bottlenecks (exponential in their number, so only now), aim the
    # greedy at it, and search again without a budget.
    if search(FIRST_BUDGET):
        return upper, [op for u in best_seq for op in units[u].ops], upper
    for k in range(JOINT + 1, min(JOINT_MAX, len(heavy)) + 1):
        if timed_out or (deadline is not None and time.perf_counter() > deadline):
            timed_out = True
            break
        top = heavy[:k] + releases[:RELEASES]
        lb_global = max(lb_global, _finite(closure.set_bound(top, 0)))
        peak, seq = aimed(lb_global)
        if peak < upper:
            upper, best_seq = peak, seq
        if upper <= lb_global:
            return upper, [op for u in best_seq for op in units[u].ops], upper
    finished = not timed_out and search(_UNSET)
    return upper, [op for u in best_seq for op in units[u].ops], upper if finished else lb_global
