"""Lower bounds on the peak from minimum-weight closures (one max-flow per unit).

In the job model of :mod:`order_units`, a unit ``x`` runs after some down-set ``D`` of units
(all of ``x``'s ancestors, none of its descendants), so its step costs at least
``base0 + min_D sum(d_y for y in D) + h_x``. Minimising a weight over the down-sets of a DAG
is a minimum-weight closure problem, solved exactly by one s-t minimum cut (Picard 1976).
The largest of these bounds is a lower bound on the optimal peak; on the stages of the search
space it is almost always tight, which lets the search stop as soon as it meets it.

Where the units form an in-forest apart from a few release sinks (every stage of the search
space), the closure is a linear tree DP per choice of releases (:class:`_ForestClosure`);
otherwise one max-flow (Dinic, exact integers). :meth:`ClosureBound.set_bound` adds the
order-aware joint bound over a few units.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from search_engine.resources.schedule_problem import reachability_masks

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


class _ForestClosure:
    """Minimum-weight closure in linear time when the units form an in-forest (every unit has
    at most one successor) apart from a few sinks with several predecessors (the releases of
    shared tensors): one tree DP per choice of which of those sinks are in the closure."""

    def __init__(self, weights: Sequence[int], preds: Sequence[int], sinks: list[int],
                 anc: list[int]) -> None:
        self.weights, self.sinks, self.anc = weights, sinks, anc
        sink_mask = 0
        for r in sinks:
            sink_mask |= 1 << r
        m = len(weights)
        self.children: list[list[int]] = [
            [j for j in range(m) if preds[y] >> j & 1] for y in range(m)
        ]
        forest = [y for y in range(m) if not sink_mask >> y & 1]
        has_parent = 0
        for y in forest:
            for c in self.children[y]:
                has_parent |= 1 << c
        self.roots = [y for y in forest if not has_parent >> y & 1]
        order = [y for y in _topological(preds) if not sink_mask >> y & 1]
        subtree_sum = [0] * m
        self.subtree_mask = [0] * m
        for y in order:
            subtree_sum[y] = weights[y] + sum(subtree_sum[c] for c in self.children[y])
            mask = 1 << y
            for c in self.children[y]:
                mask |= self.subtree_mask[c]
            self.subtree_mask[y] = mask
        self.plan = [(y, tuple(self.children[y]), subtree_sum[y]) for y in order]
        self.best_buf = [0] * m

    def solve(self, include: int, exclude: int, want_set: bool = True
              ) -> tuple[int, int] | None:
        """(minimum, a minimising set or 0 unless ``want_set``), or None if no closure
        satisfies the constraints."""
        best_value: int | None = None
        best_set = 0
        for choice in range(1 << len(self.sinks)):
            forced = include
            chosen = 0
            ok = True
            for i, r in enumerate(self.sinks):
                inside = bool(choice >> i & 1)
                if inside != bool(include >> r & 1) and (include >> r & 1 or exclude >> r & 1):
                    ok = False  # a forced sink decides its own membership
                    break
                if inside:
                    forced |= self.anc[r]
                    chosen |= 1 << r
            if not ok or forced & exclude:
                continue
            value, take = self._forest(forced, exclude)
            value += sum(self.weights[r] for r in self.sinks if chosen >> r & 1)
            if best_value is None or value < best_value:
                best_value = value
                best_set = (self._members(take) | chosen | include) if want_set else 0
        return None if best_value is None else (best_value, best_set)

    def _forest(self, forced: int, exclude: int) -> tuple[int, int]:
        """Tree DP, children first. A unit outside ``exclude`` that is in the closure brings
        its whole subtree (all its predecessors), worth ``subtree_sum``; ``exclude`` is
        closed under successors, so such a subtree never meets it."""
        best = self.best_buf
        take = 0
        for y, kids, subtree in self.plan:
            out = 0
            for c in kids:
                out += best[c]
            if exclude >> y & 1:
                best[y] = out
            elif forced >> y & 1 or subtree < out:
                best[y] = subtree
                take |= 1 << y
            else:
                best[y] = out
        return sum(best[r] for r in self.roots), take

    def _members(self, take: int) -> int:
        members = 0
        stack = list(self.roots)
        while stack:
            y = stack.pop()
            if take >> y & 1:
                members |= self.subtree_mask[y]
            else:
                stack.extend(self.children[y])
        return members


def _forest_closure(
    weights: Sequence[int], preds: Sequence[int], anc: list[int]
) -> _ForestClosure | None:
    """The linear-time solver when the unit graph allows it (at most 3 special sinks)."""
    m = len(weights)
    succs = [0] * m
    for y in range(m):
        mask, j = preds[y], 0
        while mask:
            if mask & 1:
                succs[j] |= 1 << y
            mask >>= 1
            j += 1
    # sinks whose predecessors also feed something else are the special ones
    sinks = [y for y in range(m) if not succs[y] and any(
        succs[j] != 1 << y for j in range(m) if preds[y] >> j & 1)]
    if len(sinks) > 3:
        return None
    sink_mask = sum(1 << r for r in sinks)
    for y in range(m):
        if sink_mask >> y & 1:
            continue
        rest = succs[y] & ~sink_mask
        if rest & (rest - 1):
            return None  # two successors inside the forest part
    return _ForestClosure(weights, preds, sinks, anc)



def _with_relatives(mask: int, relatives: Sequence[int]) -> int:
    """The units of bitmask ``mask`` together with their ``relatives`` (ancestor or descendant
    bitmasks, one per unit)."""
    out, j = 0, 0
    while mask:
        if mask & 1:
            out |= relatives[j] | 1 << j
        mask >>= 1
        j += 1
    return out

class ClosureBound:
    """Lower bounds on the step of each unit, globally and from a state (finished units)."""

    def __init__(
        self, hills: Sequence[int], deltas: Sequence[int], preds: Sequence[int], base0: int
    ) -> None:
        m = len(hills)
        self.hills, self.deltas, self.preds, self.base0 = hills, deltas, preds, base0
        self.anc, self.desc = reachability_masks(preds, _topological(preds))
        self.fast = _forest_closure(deltas, preds, self.anc)
        self.global_bounds = [self.bound(x, 0) for x in range(m)]

    def closure(self, include: int, exclude: int, want_set: bool = True) -> tuple[int, int]:
        """Minimum-weight closure (value, set) with ``include`` inside and ``exclude``
        outside (:func:`min_closure`, or the linear-time forest DP where it applies)."""
        if self.fast is not None:
            found = self.fast.solve(include, exclude, want_set)
            if found is not None:
                return found
        return min_closure(self.deltas, self.preds, include, exclude)

    def bound(self, x: int, done: int) -> int:
        """A lower bound on unit ``x``'s step in every schedule that starts with the units in
        ``done`` (a down-set not containing ``x``)."""
        low, _ = self.closure(done | self.anc[x], self.desc[x] | 1 << x, want_set=False)
        return self.base0 + low + self.hills[x]

    def bound_before(self, x: int, done: int, later: int, earlier: int = 0) -> float:
        """Like :meth:`bound`, for schedules in which the units of bitmask ``later`` run after
        ``x`` and those of ``earlier`` before it; infinite when no such schedule exists."""
        exclude = self.desc[x] | 1 << x | _with_relatives(later, self.desc)
        include = done | self.anc[x] | _with_relatives(earlier, self.anc)
        if include & exclude:
            return _INF
        low, _ = self.closure(include, exclude, want_set=False)
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
        return self.closure(done | self.anc[x], self.desc[x] | 1 << x)


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
