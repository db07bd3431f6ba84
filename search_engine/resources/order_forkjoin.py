"""Exact order of a fork-join stage: parallel chains, one shared input, at most one merge op.

The shape: ``k`` chains of ops (each op reads only its predecessor's output; the first op of
every chain reads the stage's shared input), optionally one op that reads every chain's end
(an n-ary ``Add``/``Concat``), nothing else. Imported ``.tflite`` models and hand-written JSON
have it; the general unit search (:mod:`order_units`) is exponential in ``k`` on it.

In the job model of :mod:`order_units` (``h``: the step above the live bytes, ``d``: the net
change; context-free once the shared input has its own *release* job ``R = (0, -s)`` after
the chains' first ops), a chain's jobs stack-merge into Liu's hill-valley segments with
strictly decreasing priority. The results used here (proofs in ``docs/peak-memory.md``,
"Fork-join stages"):

* **No release** (the input is pinned, empty, or read by one chain): the chains are
  independent, and running all segments sorted by priority, then the merge op, is optimal
  (segment lemma, then bubble sort by the pairwise exchange rule). O(n log n).
* **With a release**: some optimal schedule runs, for each chain ``i``, its first op and its
  first ``q_i`` rest segments before ``R`` (phase 1), ``R`` right after the last first op, then
  the rest (phase 2), then the merge op; each phase is an independent-chain problem, solved
  by the priority sort. So the optimum is ``min over q of peak(q)``, each ``peak(q)`` in linear
  time. Choosing ``q`` is a subset-sum-like problem (weakly NP-hard, see the docs), so it is a
  branch and bound over ``q`` (upper bound: coordinate descent; lower bounds: the live bytes
  at the end of phase 1, phase 1 restricted to the decided chains, a per-chain floor in phase
  2, and the caller's global bound). It is exact when it finishes; past ``deadline`` it
  returns its best order and a proven lower bound.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from search_engine.resources.order_units import Unit, build_jobs, compose, priority
from search_engine.resources.schedule_problem import Problem

CHECK_EVERY = 256  # branch-and-bound nodes between two deadline checks


@dataclass(frozen=True)
class Scheduled:
    """A stage's answer: the best peak found, an order achieving it (op indices), and a
    proven lower bound on the optimum (equal to ``peak`` when the order is proven optimal)."""

    peak: int
    order: list[int]
    lower_bound: int

    @property
    def proven(self) -> bool:
        return self.lower_bound >= self.peak


@dataclass(frozen=True)
class ForkJoin:
    """The recognised shape: chains of job indices (first op first), the release job (or
    None), the merge job (or None), the jobs and the starting live bytes."""

    chains: list[list[int]]
    release: int | None
    merge: int | None
    jobs: list[Unit]
    base0: int


def _key(u: Unit) -> tuple[int, int]:
    return priority(u.h, u.d)


def segments(units: Sequence[Unit]) -> list[Unit]:
    """Liu's hill-valley segments of a chain of units (stack merging: a unit that ranks at
    least as high as the one before it joins it), priorities strictly decreasing."""
    stack: list[Unit] = []
    for u in units:
        stack.append(u)
        while len(stack) >= 2 and _key(stack[-1]) <= _key(stack[-2]):
            b = stack.pop()
            a = stack.pop()
            stack.append(compose(a, b))
    return stack


def recognise(problem: Problem) -> ForkJoin | None:
    """The fork-join shape of ``problem``, or ``None`` if it has another shape."""
    built = build_jobs(problem)
    if built is None:
        return None
    jobs, preds, base0 = built
    n = problem.n
    releases = [j for j in range(n, len(jobs))]
    if len(releases) > 1:
        return None
    succ: list[list[int]] = [[] for _ in range(n)]
    for v in range(n):
        for p in preds[v]:
            succ[p].append(v)
    sinks = [v for v in range(n) if not succ[v]]
    merge = None
    if any(len(s) > 1 for s in succ):
        return None
    # every op but the merge has at most one predecessor and one successor
    multi = [v for v in range(n) if len(preds[v]) > 1]
    if len(multi) > 1:
        return None
    if multi:
        merge = multi[0]
        if len(sinks) != 1 or sinks[0] != merge:
            return None
    heads = [v for v in range(n) if not preds[v] and v != merge]
    chains = []
    seen = 0
    for head in heads:
        chain = [head]
        while succ[chain[-1]] and succ[chain[-1]][0] != merge:
            chain.append(succ[chain[-1]][0])
        chains.append(chain)
        seen += len(chain)
    if seen + (merge is not None) != n or len(chains) < 2:
        return None
    if merge is not None and preds[merge] != {c[-1] for c in chains}:
        return None
    release = None
    if releases:
        release = releases[0]
        if preds[release] != set(heads):
            return None
        for chain in chains:  # every chain holds >= 0 bytes of its own (phase-1 bounds)
            live = 0
            for j in chain:
                live += jobs[j].d
                if live < 0:
                    return None
    return ForkJoin(chains, release, merge, jobs, base0)


def _ops(units: Sequence[Unit]) -> list[int]:
    return [op for u in units for op in u.ops]


def _peak(units: Sequence[Unit], base: int) -> tuple[int, int]:
    peak = base
    for u in units:
        if base + u.h > peak:
            peak = base + u.h
        base += u.d
    return peak, base


def _sorted_merge(chains: Sequence[Sequence[Unit]]) -> list[Unit]:
    """The units of independent chains in priority order (chain order within a chain, since
    each chain's segments have strictly decreasing priority)."""
    items = [(_key(u), c, k, u) for c, chain in enumerate(chains) for k, u in enumerate(chain)]
    items.sort(key=lambda item: item[:3])
    return [item[3] for item in items]


def fork_join_order(problem: Problem, deadline: float | None = None,
                    lower_bound: int = 0) -> Scheduled | None:
    """The exact optimum of a fork-join stage (see the module docstring), or ``None`` where
    ``problem`` has another shape. ``deadline`` (a ``time.perf_counter()`` value) bounds the
    branch and bound of the shared-input case; ``lower_bound`` is any bound the caller knows
    (it only stops the search earlier)."""
    shape = recognise(problem)
    if shape is None:
        return None
    jobs = shape.jobs
    tail = [jobs[shape.merge]] if shape.merge is not None else []
    if shape.release is None:
        order = _sorted_merge([segments([jobs[j] for j in c]) for c in shape.chains]) + tail
        peak, _ = _peak(order, shape.base0)
        return Scheduled(peak, _ops(order), peak)
    return _SplitSearch(shape, tail, deadline, lower_bound).run()


class _SplitSearch:
    """Branch and bound over the phase-1 split ``q`` of the chains (shared-input case)."""

    def __init__(self, shape: ForkJoin, tail: list[Unit], deadline: float | None,
                 lower_bound: int) -> None:
        jobs = shape.jobs
        self.base0 = shape.base0
        self.release = jobs[cast(int, shape.release)]  # built only for a shape with a release
        self.tail = tail
        self.deadline = deadline
        self.k = k = len(shape.chains)
        self.rests = [segments([jobs[j] for j in c[1:]]) for c in shape.chains]
        heads = [jobs[c[0]] for c in shape.chains]
        # phase-1 segments of chain i with option o: its head and first o rest segments
        self.phase1 = [[segments([heads[i], *self.rests[i][:o]])
                        for o in range(len(self.rests[i]) + 1)] for i in range(k)]
        self.options = [len(r) + 1 for r in self.rests]
        # global priority orders, filtered by the chosen options at evaluation time
        p1 = [(_key(u), i, o, s, u) for i in range(k) for o in range(self.options[i])
              for s, u in enumerate(self.phase1[i][o])]
        p1.sort(key=lambda item: item[:4])
        self.p1 = [(i, o, u.h, u.d) for _, i, o, _, u in p1]
        p2 = [(_key(u), i, s, u) for i in range(k) for s, u in enumerate(self.rests[i])]
        p2.sort(key=lambda item: item[:3])
        self.p2 = [(i, s, u.h, u.d) for _, i, s, u in p2]
        # per chain and option: live bytes at the end of phase 1 (v), the smallest live bytes
        # of the chain during phase 2 (floor) and its largest phase-2 step above the chain's
        # own live bytes (top); both relative to the chain's start
        self.v = [[sum(u.d for u in self.phase1[i][o]) for o in range(self.options[i])]
                  for i in range(k)]
        self.floor: list[list[int]] = []
        self.top: list[list[int]] = []
        for i in range(k):
            floors, tops = [], []
            for o in range(self.options[i]):
                live = self.v[i][o]
                low, high = live, live
                for u in self.rests[i][o:]:
                    high = max(high, live + u.h)
                    live += u.d
                    low = min(low, live)
                floors.append(low)
                tops.append(high)
            self.floor.append(floors)
            self.top.append(tops)
        self.s = -self.release.d
        self.lower_bound = max(lower_bound, self._static_bound())
        self.nodes = 0

    def _static_bound(self) -> int:
        """Bounds valid for every split: the merge step, each head's step with the shared
        input, and the live bytes at the end of phase 1 with every chain at its lowest."""
        k = self.k
        base = self.base0
        best = [base + max(u.h for u in self.phase1[i][0]) for i in range(k)]
        out = max(best)
        out = max(out, base + sum(min(vs) for vs in self.v))
        if self.tail:
            end = base + sum(sum(u.d for u in self.phase1[i][-1]) for i in range(k)) - self.s
            out = max(out, end + self.tail[0].h)
        return out

    def evaluate(self, q: Sequence[int]) -> int:
        base = self.base0
        peak = base
        for i, o, h, d in self.p1:
            if q[i] == o:
                if base + h > peak:
                    peak = base + h
                base += d
        base -= self.s  # the release (h = 0)
        for i, s, h, d in self.p2:
            if s >= q[i]:
                if base + h > peak:
                    peak = base + h
                base += d
        for u in self.tail:
            if base + u.h > peak:
                peak = base + u.h
        return peak

    def order(self, q: Sequence[int]) -> list[int]:
        first = _sorted_merge([self.phase1[i][q[i]] for i in range(self.k)])
        second = _sorted_merge([self.rests[i][q[i]:] for i in range(self.k)])
        return _ops([*first, self.release, *second, *self.tail])

    def _descend(self) -> tuple[int, list[int]]:
        """Coordinate descent from the split "heads only" (an upper bound)."""
        q = [0] * self.k
        best = self.evaluate(q)
        improved = True
        while improved and best > self.lower_bound:
            improved = False
            for i in range(self.k):
                keep = q[i]
                for o in range(self.options[i]):
                    if o == keep:
                        continue
                    q[i] = o
                    value = self.evaluate(q)
                    if value < best:
                        best, keep, improved = value, o, True
                q[i] = keep
        return best, q

    def run(self) -> Scheduled:
        upper, best_q = self._descend()
        if upper > self.lower_bound:
            finished = self._branch(upper, best_q)
            upper, best_q = self.best, self.best_q
            if finished:
                self.lower_bound = upper
        return Scheduled(upper, self.order(best_q), min(self.lower_bound, upper))

    def _branch(self, upper: int, q0: list[int]) -> bool:
        """Depth-first over the chains (widest spread of end values first); False if the
        deadline passed (``best`` / ``best_q`` then hold the best split found)."""
        self.best, self.best_q = upper, list(q0)
        k = self.k
        base = self.base0
        order = sorted(range(k), key=lambda i: min(self.v[i]) - max(self.v[i]))
        # phase-1 bound pieces for undecided chains: lowest end value, lowest floor
        vmin = [min(vs) for vs in self.v]
        fmin = [min(fs) for fs in self.floor]
        q = [-1] * k
        deadline = self.deadline

        def phase1_peak() -> int:
            b, peak = base, base
            for i, o, h, d in self.p1:
                if q[i] == o:
                    if b + h > peak:
                        peak = b + h
                    b += d
            return peak

        def phase2_peak(v_sum: int, f_sum: int) -> int:
            # decided chains merged optimally; undecided ones at their lowest (fmin)
            b = base - self.s + v_sum + f_sum
            peak = b
            for i, s, h, d in self.p2:
                if q[i] >= 0 and s >= q[i]:
                    if b + h > peak:
                        peak = b + h
                    b += d
            return peak

        def rec(depth: int, v_sum: int, f_sum: int, top: int) -> bool:
            self.nodes += 1
            if deadline is not None and self.nodes % CHECK_EVERY == 0 \
                    and time.perf_counter() > deadline:
                return False
            if depth == k:
                value = self.evaluate(q)
                if value < self.best:
                    self.best, self.best_q = value, list(q)
                return True
            i = order[depth]
            tried = sorted(range(self.options[i]), key=lambda o: o != self.best_q[i])
            for o in tried:
                nv = v_sum - vmin[i] + self.v[i][o]
                nf = f_sum - fmin[i] + self.floor[i][o]
                nt = max(top, self.top[i][o] - self.floor[i][o])
                # end of phase 1 (the shared input still alive), phase-2 floor of the others
                if max(base + nv, base - self.s + nf + nt) >= self.best:
                    continue
                q[i] = o
                dec_v = nv - sum(vmin[j] for j in order[depth + 1:])
                und_f = sum(fmin[j] for j in order[depth + 1:])
                if (phase1_peak() < self.best and phase2_peak(dec_v, und_f) < self.best
                        and not rec(depth + 1, nv, nf, nt)):
                    q[i] = -1
                    return False
                q[i] = -1
                if self.best <= self.lower_bound:
                    return True
            return True

        return rec(0, sum(vmin), sum(fmin), 0)
