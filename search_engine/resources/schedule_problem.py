"""The scheduling instance behind the peak-memory analysis, and its memory semantics.

A :class:`Problem` is an op graph reduced to integers: ops with the distinct tensors they read
and the tensor they write, tensor sizes, the tensors alive when the problem starts and the
tensors it never frees. The whole graph is one problem (:func:`compile_graph`); a stage of it
is another (:func:`split_stages`), so every solver works on the same type.

Semantics (DESIGN.md "Resource semantics", TFLite Micro): ops run one at a time; when an op
starts its output is allocated, and the working set of that step is every live tensor plus the
output. A tensor is freed right after its last reader finishes; pinned tensors (graph outputs,
and in a stage the tensors later stages read) are never freed; an op output that nobody reads
is freed right after its op; a starting tensor that nobody reads and that is not pinned (an
unused graph input) is alive during the first step only. Whether a tensor is alive is a
function of the set of finished ops, which is what makes the subset DP possible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from search_engine.graph.opgraph import OpGraph


@dataclass(frozen=True)
class Problem:
    """Ops ``0..n-1`` (``reads``: distinct tensor ids, ``writes``: tensor id), tensor sizes,
    the tensors alive at the start (``initial``, stable order) and the ``pinned`` ones."""

    op_names: tuple[str, ...]
    reads: tuple[tuple[int, ...], ...]
    writes: tuple[int, ...]
    sizes: tuple[int, ...]
    tensor_names: tuple[str, ...]
    initial: tuple[int, ...]
    pinned: frozenset[int]
    readers: tuple[int, ...] = field(init=False, repr=False)  # bitmask of reader ops per tensor
    preds: tuple[int, ...] = field(init=False, repr=False)  # bitmask of producer ops per op

    def __post_init__(self) -> None:
        readers = [0] * len(self.sizes)
        for i, ts in enumerate(self.reads):
            for t in ts:
                readers[t] |= 1 << i
        producer = {t: i for i, t in enumerate(self.writes)}
        preds = []
        for ts in self.reads:
            mask = 0
            for t in ts:
                if t in producer:
                    mask |= 1 << producer[t]
            preds.append(mask)
        object.__setattr__(self, "readers", tuple(readers))
        object.__setattr__(self, "preds", tuple(preds))

    @property
    def n(self) -> int:
        return len(self.op_names)

    def alive(self, t: int, done: int, initial: bool) -> bool:
        """Whether tensor ``t`` is alive once the ops in bitmask ``done`` have finished
        (``initial``: ``t`` is a starting tensor; otherwise its producer is in ``done``)."""
        if t in self.pinned:
            return True
        r = self.readers[t]
        if r:
            return bool(r & ~done)
        return initial and done == 0

    def live(self, done: int) -> list[int]:
        """Live tensors after the ops in ``done`` (starting tensors first, then op outputs in
        op index order)."""
        out = [t for t in self.initial if self.alive(t, done, True)]
        i = 0
        rest = done
        while rest:
            if rest & 1:
                t = self.writes[i]
                if self.alive(t, done, False):
                    out.append(t)
            rest >>= 1
            i += 1
        return out

    def live_bytes(self, done: int) -> int:
        return sum(self.sizes[t] for t in self.live(done))

    def step_delta(self, done: int, op: int, unused: bool = True) -> int:
        """Change of the live bytes when ``op`` finishes after ``done`` (``op`` not in it).
        ``unused=False`` leaves out the unused starting tensors that the first step frees
        whichever op it runs (so the result is what ``op`` itself allocates and frees)."""
        after = done | (1 << op)
        delta = 0
        t = self.writes[op]
        if self.alive(t, after, False):
            delta += self.sizes[t]
        for t in self.reads[op]:
            if t not in self.pinned and not (self.readers[t] & ~after):
                delta -= self.sizes[t]
        if done == 0 and unused:  # unread starting tensors are freed after the first step
            for t in self.initial:
                if not self.readers[t] and t not in self.pinned:
                    delta -= self.sizes[t]
        return delta

    def check_order(self, order: Sequence[int]) -> list[int]:
        """Peak of ``order`` (op indices, assumed valid) as the list of step totals."""
        done = 0
        live = self.live_bytes(0)
        totals = []
        for op in order:
            totals.append(live + self.sizes[self.writes[op]])
            live += self.step_delta(done, op)
            done |= 1 << op
        return totals

    def static_lower_bound(self, op: int) -> int:
        """Bytes certainly alive while ``op`` runs, whatever the order: its inputs, its output
        and the pinned starting tensors."""
        ts = set(self.reads[op]) | {self.writes[op]}
        ts.update(t for t in self.initial if t in self.pinned)
        return sum(self.sizes[t] for t in ts)


def compile_graph(graph: OpGraph) -> Problem:
    """The whole (validated) graph as one :class:`Problem`; ops keep the listed order."""
    index = {name: i for i, name in enumerate(graph.tensors)}
    reads = tuple(tuple(dict.fromkeys(index[t] for t in op.inputs)) for op in graph.ops)
    return Problem(
        op_names=tuple(op.name for op in graph.ops),
        reads=reads,
        writes=tuple(index[op.output] for op in graph.ops),
        sizes=tuple(graph.tensors.values()),
        tensor_names=tuple(graph.tensors),
        initial=tuple(index[t] for t in graph.inputs),
        pinned=frozenset(index[t] for t in graph.outputs),
    )


def reachability_masks(preds: Sequence[int], order: Iterable[int] | None = None
                       ) -> tuple[list[int], list[int]]:
    """Bitmasks of strict ancestors and descendants of every op, from predecessor bitmasks;
    ``order`` is a topological order of the ops (default: their numbering)."""
    n = len(preds)
    anc = [0] * n
    for i in range(n) if order is None else order:
        mask = preds[i]
        a = mask
        rest = mask
        j = 0
        while rest:
            if rest & 1:
                a |= anc[j]
            rest >>= 1
            j += 1
        anc[i] = a
    desc = [0] * n
    for i in range(n):
        rest = anc[i]
        j = 0
        while rest:
            if rest & 1:
                desc[j] |= 1 << i
            rest >>= 1
            j += 1
    return anc, desc


def _reachability(problem: Problem) -> tuple[list[int], list[int]]:
    """Ancestors and descendants of every op (ops are topologically numbered)."""
    return reachability_masks(problem.preds)


def split_stages(problem: Problem) -> list[list[int]]:
    """Partition the ops into stages that every valid order runs one after another.

    An op comparable with every other op (an ancestor or descendant of each) is a cut: all
    ops before it in the partial order run before it in any order, all ops after it run after
    it. Each cut op is a stage of its own; the ops between two consecutive cuts form a stage.
    Ops are numbered topologically, so stages come out in execution order.
    """
    n = problem.n
    anc, desc = _reachability(problem)
    full = (1 << n) - 1
    cuts = [i for i in range(n) if (anc[i] | desc[i] | (1 << i)) == full]
    cut_mask = 0
    for c in cuts:
        cut_mask |= 1 << c
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        if cut_mask >> i & 1:
            key = (bin(anc[i] & cut_mask).count("1"), 1)  # the cut itself
        else:
            key = (bin(anc[i] & cut_mask).count("1"), 0)  # ops after that many cuts
        groups.setdefault(key, []).append(i)
    return [groups[k] for k in sorted(groups)]


def subproblem(problem: Problem, ops: Sequence[int], done_before: int) -> Problem:
    """The stage made of ``ops`` (in topological order), run after the ops in ``done_before``
    and before all remaining ops: its starting tensors are those alive after ``done_before``,
    and tensors read by later ops are pinned."""
    stage_mask = 0
    for i in ops:
        stage_mask |= 1 << i
    later = ((1 << problem.n) - 1) & ~stage_mask & ~done_before
    starting = problem.live(done_before)
    pinned = set(problem.pinned)
    for t in range(len(problem.sizes)):
        if problem.readers[t] & later:
            pinned.add(t)
    # keep only tensors the stage can see: starting ones and the stage's outputs
    used = list(dict.fromkeys([*starting, *(problem.writes[i] for i in ops)]))
    tid = {t: k for k, t in enumerate(used)}
    return Problem(
        op_names=tuple(problem.op_names[i] for i in ops),
        reads=tuple(tuple(tid[t] for t in problem.reads[i]) for i in ops),
        writes=tuple(tid[problem.writes[i]] for i in ops),
        sizes=tuple(problem.sizes[t] for t in used),
        tensor_names=tuple(problem.tensor_names[t] for t in used),
        initial=tuple(tid[t] for t in starting),
        pinned=frozenset(tid[t] for t in used if t in pinned),
    )
