"""Lower bounds on the peak from minimum-weight closures (one max-flow per unit).

In the job model of :mod:`order_units`, a unit ``x`` runs after some down-set ``D`` of units
(all of ``x``'s ancestors, none of its descendants), so its step costs at least
``base0 + min_D sum(d_y for y in D) + h_x``. Minimising a weight over the down-sets of a DAG
is a minimum-weight closure problem, solved exactly by one s-t minimum cut (Picard 1976).
The largest of these bounds is a lower bound on the optimal peak; on the stages of the search
space it is almost always tight, which lets the search stop as soon as it meets it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

_INF = float("inf")


def _max_flow(
    n: int, edges: list[tuple[int, int, int]], s: int, t: int
) -> tuple[int, list[int]]:
    """Dinic's algorithm (iterative), for the small graphs used here: (flow, BFS levels of the
    last phase, non-negative exactly on the source side of a minimum cut)."""
    head: list[list[int]] = [[] for _ in range(n)]
    to: list[int] = []
    cap: list[int] = []
    for u, v, c in edges:
        head[u].append(len(to))
        to.append(v)
        cap.append(c)
        head[v].append(len(to))
        to.append(u)
        cap.append(0)
    flow = 0
    while True:
        level = [-1] * n
        level[s] = 0
        queue = deque([s])
        while queue:
            u = queue.popleft()
            for e in head[u]:
                if cap[e] > 0 and level[to[e]] < 0:
                    level[to[e]] = level[u] + 1
                    queue.append(to[e])
        if level[t] < 0:
            return flow, level
        it = [0] * n
        while True:  # blocking flow: repeated DFS along level edges
            path: list[int] = []
            u = s
            while u != t:
                advanced = False
                while it[u] < len(head[u]):
                    e = head[u][it[u]]
                    if cap[e] > 0 and level[to[e]] == level[u] + 1:
                        path.append(e)
                        u = to[e]
                        advanced = True
                        break
                    it[u] += 1
                if not advanced:
                    if u == s:
                        break
                    level[u] = -1  # dead end
                    e = path.pop()
                    u = to[e ^ 1]
                    it[u] += 1
            if u != t:
                break
            push = min(cap[e] for e in path)
            for e in path:
                cap[e] -= push
                cap[e ^ 1] += push
            flow += push


def min_closure(
    weights: Sequence[int], preds: Sequence[int], include: int, exclude: int
) -> tuple[int, int]:
    """(minimum, a minimising set as a bitmask) of ``sum(weights[y] for y in D)`` over sets
    ``D`` closed under predecessors (bitmasks ``preds[y]``) with ``include`` (bitmask) inside
    and ``exclude`` outside. ``include`` must itself be closed and disjoint from ``exclude``;
    ``exclude`` must be closed under successors."""
    m = len(weights)
    s, t = m, m + 1
    edges: list[tuple[int, int, int]] = []
    big = 1 + sum(abs(w) for w in weights)  # "infinite" capacity, exact in integers
    # Choose D minimising sum(w): equivalently maximise sum(-w) over closures (a max-weight
    # closure: source -> y for gains, y -> sink for losses, y -> pred infinite).
    for y in range(m):
        if include >> y & 1 or exclude >> y & 1:
            continue
        gain = -weights[y]
        if gain > 0:
            edges.append((s, y, gain))
        elif gain < 0:
            edges.append((y, t, -gain))
        mask = preds[y]
        j = 0
        while mask:
            if mask & 1:
                if exclude >> j & 1:  # y needs an excluded unit: y cannot be in D
                    edges.append((y, t, big))
                elif not include >> j & 1:
                    edges.append((y, j, big))
            mask >>= 1
            j += 1
    _, level = _max_flow(m + 2, edges, s, t)
    chosen = include
    for y in range(m):
        if level[y] >= 0 and not include >> y & 1 and not exclude >> y & 1:
            chosen |= 1 << y
    return int(sum(weights[y] for y in range(m) if chosen >> y & 1)), chosen


class ClosureBound:
    """Lower bounds on the step of each unit, globally and from a state (finished units)."""

    def __init__(
        self, hills: Sequence[int], deltas: Sequence[int], preds: Sequence[int], base0: int
    ) -> None:
        m = len(hills)
        self.hills, self.deltas, self.preds, self.base0 = hills, deltas, preds, base0
        anc = [0] * m
        for y in _topological(preds):
            mask = preds[y]
            a = mask
            j = 0
            while mask:
                if mask & 1:
                    a |= anc[j]
                mask >>= 1
                j += 1
            anc[y] = a
        desc = [0] * m
        for y in range(m):
            mask = anc[y]
            j = 0
            while mask:
                if mask & 1:
                    desc[j] |= 1 << y
                mask >>= 1
                j += 1
        self.anc, self.desc = anc, desc
        self.global_bounds = [self.bound(x, 0) for x in range(m)]

    def bound(self, x: int, done: int) -> int:
        """A lower bound on unit ``x``'s step in every schedule that starts with the units in
        ``done`` (a down-set not containing ``x``)."""
        return self.base0 + self.before(x, done)[0] + self.hills[x]

    def bound_before(self, x: int, done: int, later: int, earlier: int = 0) -> float:
        """Like :meth:`bound`, for schedules in which the units of bitmask ``later`` run after
        ``x`` and those of ``earlier`` before it; infinite when no such schedule exists."""
        exclude = self.desc[x] | 1 << x
        mask, j = later, 0
        while mask:
            if mask & 1:
                exclude |= self.desc[j] | 1 << j
            mask >>= 1
            j += 1
        include = done | self.anc[x]
        mask, j = earlier, 0
        while mask:
            if mask & 1:
                include |= self.anc[j] | 1 << j
            mask >>= 1
            j += 1
        if include & exclude:
            return _INF
        low, _ = min_closure(self.deltas, self.preds, include, exclude)
        return self.base0 + low + self.hills[x]

    def set_bound(self, xs: Sequence[int], done: int) -> float:
        """A lower bound on the peak of every schedule starting with ``done``, from the units
        ``xs``: whatever order they run in, each one's step comes after ``done`` and the
        ``xs`` before it, and before the ``xs`` after it, so the peak is at least
        ``min over orders of max over x of bound_before(x, done, xs after x, xs before x)``
        (a DP over subsets: ``H(A)`` = best order of the units ``A`` that run last)."""
        t = len(xs)
        every = 0
        for x in xs:
            every |= 1 << x
        h: list[float] = [-_INF] * (1 << t)
        for a in range(1, 1 << t):
            best = _INF
            for i in range(t):
                if a >> i & 1:
                    rest = a & ~(1 << i)
                    later = 0
                    for k in range(t):
                        if rest >> k & 1:
                            later |= 1 << xs[k]
                    earlier = every & ~later & ~(1 << xs[i])
                    value = max(self.bound_before(xs[i], done, later, earlier), h[rest])
                    best = min(best, value)
            h[a] = best
        return h[-1]

    def before(self, x: int, done: int) -> tuple[int, int]:
        """(smallest net change, a down-set achieving it) of the units that can run before
        ``x`` once ``done`` has run."""
        return min_closure(self.deltas, self.preds, done | self.anc[x], self.desc[x] | 1 << x)


def closure_lower_bounds(
    hills: Sequence[int], deltas: Sequence[int], preds: Sequence[int], base0: int
) -> list[int]:
    """For each unit ``x``: ``base0 + (minimum net change of a down-set that can precede x)
    + hills[x]``, a lower bound on ``x``'s step in every schedule."""
    return ClosureBound(hills, deltas, preds, base0).global_bounds


def _topological(preds: Sequence[int]) -> list[int]:
    m = len(preds)
    done = 0
    order: list[int] = []
    while len(order) < m:
        progressed = False
        for y in range(m):
            if not done >> y & 1 and not preds[y] & ~done:
                order.append(y)
                done |= 1 << y
                progressed = True
        if not progressed:
            raise ValueError("cyclic unit graph")
    return order
