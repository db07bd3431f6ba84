"""Random op graphs for testing and benchmarking the peak-memory analysis.

* :func:`random_dag`: arbitrary DAGs (several inputs and outputs, multi-reader tensors, ops
  reading a tensor twice, unread op outputs, unused inputs, zero-byte tensors).
* :func:`fork_join_graph`: the search space's stage shape with explicit sizes: a stage input
  shared by parallel chains, joined by a chain of binary adds ``((b0+b1)+b2)+...``, stages in
  series, then a tail (pool, reshape, dense layers).
* :func:`random_fork_join`: :func:`fork_join_graph` with random branch counts, lengths and
  sizes (stage input large or tiny relative to the branches).
* :func:`nary_fork_join_graph` / :func:`random_nary_fork_join`: one stage input shared by
  parallel chains that a single n-ary op (an ``Add``/``Concat`` with ``k`` inputs) merges, as
  imported ``.tflite`` models and hand-written JSON have them; the shape on which the general
  search used to go exponential (``docs/peak-memory.md``, "Fork-join stages").
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from search_engine.graph.opgraph import Op, OpGraph

if TYPE_CHECKING:
    from search_engine.space.architecture import Architecture


def _size(rng: random.Random, zero_p: float = 0.1, hi: int = 64) -> int:
    return 0 if rng.random() < zero_p else rng.randint(1, hi)


def random_dag(
    rng: random.Random, n_ops: int, *, n_inputs: int | None = None, max_inputs: int = 3
) -> OpGraph:
    """A random DAG of ``n_ops`` ops listed in a random valid order."""
    n_inputs = n_inputs if n_inputs is not None else rng.choice((1, 1, 1, 2))
    tensors: dict[str, int] = {}
    available: list[str] = []
    inputs = []
    for i in range(n_inputs):
        name = f"in{i}"
        tensors[name] = _size(rng)
        inputs.append(name)
        available.append(name)
    ops = []
    for i in range(n_ops):
        k = rng.randint(1, min(max_inputs, len(available)))
        # favour recent tensors so graphs are not all flat
        pool = available[-6:] if rng.random() < 0.7 else available
        reads = [rng.choice(pool) for _ in range(k)]
        out = f"t{i}"
        tensors[out] = _size(rng)
        ops.append(Op(name=f"op{i}", inputs=tuple(reads), output=out))
        available.append(out)
    read = {t for op in ops for t in op.inputs}
    produced = [op.output for op in ops]
    outputs = [produced[-1]]
    for t in produced[:-1]:
        if t not in read or rng.random() < 0.1:
            if rng.random() < 0.7:
                outputs.append(t)
    if rng.random() < 0.1:
        outputs.append(inputs[0])
    return OpGraph(tensors=tensors, inputs=tuple(inputs), outputs=tuple(outputs), ops=tuple(ops))


def fork_join_graph(
    input_bytes: int,
    stages: Sequence[tuple[Sequence[Sequence[int]], Sequence[int]]],
    tail: Sequence[int] = (),
) -> OpGraph:
    """A graph of fork-join stages in series.

    Each stage is ``(branches, adds)``: ``branches[i]`` lists the output sizes of branch
    ``i``'s chain of ops (each branch's first op reads the stage input), and ``adds`` the
    ``len(branches) - 1`` output sizes of the binary adds ``((b0+b1)+b2)+...``; a stage with
    one branch has no adds and its output is the branch's end. ``tail`` lists the sizes of
    a final chain of ops (pool, reshape, dense...). The last tensor is the graph output.
    """
    tensors = {"input": input_bytes}
    ops: list[Op] = []
    current = "input"
    for s, (branches, adds) in enumerate(stages):
        if len(adds) != max(len(branches) - 1, 0):
            raise ValueError("a stage with k branches needs k - 1 adds")
        ends = []
        for b, chain in enumerate(branches):
            prev = current
            for j, size in enumerate(chain):
                name = f"s{s}_b{b}_op{j}"
                tensors[name] = size
                ops.append(Op(name=name, inputs=(prev,), output=name, kind="conv2d"))
                prev = name
            ends.append(prev)
        acc = ends[0]
        for j, size in enumerate(adds):
            name = f"s{s}_add{j + 1}"
            tensors[name] = size
            ops.append(Op(name=name, inputs=(acc, ends[j + 1]), output=name, kind="add"))
            acc = name
        current = acc
    for j, size in enumerate(tail):
        name = f"tail{j}"
        tensors[name] = size
        ops.append(Op(name=name, inputs=(current,), output=name, kind="dense"))
        current = name
    return OpGraph(tensors=tensors, inputs=("input",), outputs=(current,), ops=tuple(ops))


def random_fork_join(
    rng: random.Random,
    *,
    max_branches: int = 4,
    max_len: int = 3,
    n_stages: int = 1,
    hi: int = 100,
) -> OpGraph:
    """A random :func:`fork_join_graph`: sizes in ``0..hi`` with zero-byte tensors now and
    then, stage inputs sometimes huge or tiny, random add sizes or all-equal ones."""
    stages = []
    for _ in range(n_stages):
        k = rng.randint(1, max_branches)
        branches = [[_size(rng, 0.05, hi) for _ in range(rng.randint(1, max_len))]
                    for _ in range(k)]
        if rng.random() < 0.5:  # the search space: adds the size of the branch ends
            e = rng.randint(0, hi)
            for chain in branches:
                chain[-1] = e
            adds = [e] * (k - 1)
        else:
            adds = [_size(rng, 0.05, hi) for _ in range(k - 1)]
        stages.append((branches, adds))
    roll = rng.random()
    input_bytes = rng.randint(0, 3) if roll < 0.2 else rng.randint(3 * hi, 6 * hi) if roll < 0.4 \
        else rng.randint(0, hi)
    tail = [_size(rng, 0.05, hi) for _ in range(rng.randint(0, 2))]
    return fork_join_graph(input_bytes, stages, tail)


def nary_fork_join_graph(
    input_bytes: int, branches: Sequence[Sequence[int]], merge_bytes: int,
    *, pinned_input: bool = False,
) -> OpGraph:
    """One stage input read by the first op of every branch (``branches[i]``: the output
    sizes of branch ``i``'s chain of ops), all branch ends read by one n-ary op ``merge``
    (its output, ``merge_bytes``, is the graph output). ``pinned_input``: the input is also a
    graph output (never freed)."""
    if not branches or any(not chain for chain in branches):
        raise ValueError("every branch needs at least one op")
    tensors = {"input": input_bytes}
    ops: list[Op] = []
    ends = []
    for b, chain in enumerate(branches):
        prev = "input"
        for j, size in enumerate(chain):
            name = f"b{b}_op{j}"
            tensors[name] = size
            ops.append(Op(name=name, inputs=(prev,), output=name, kind="conv2d"))
            prev = name
        ends.append(prev)
    tensors["merge"] = merge_bytes
    ops.append(Op(name="merge", inputs=tuple(ends), output="merge", kind="concatenation"))
    outputs = ("merge", "input") if pinned_input else ("merge",)
    return OpGraph(tensors=tensors, inputs=("input",), outputs=outputs, ops=tuple(ops))


def random_nary_fork_join(
    rng: random.Random, branches: int, *, ops_per_branch: int = 3, hi: int = 1000,
    input_bytes: int | None = None, merge: str = "concat",
) -> OpGraph:
    """A random :func:`nary_fork_join_graph` with ``branches`` chains of ``ops_per_branch``
    ops of unequal sizes (each branch has its own scale, so branches differ a lot), the stage
    input random in ``1..hi`` unless given, and the merge output the sum of the branch ends
    (``merge="concat"``) or the largest of them (``"add"``: the merge step no longer
    dominates the peak, so the order of the branches decides it)."""
    chains = []
    for _ in range(branches):
        scale = rng.randint(1, hi)
        chains.append([rng.randint(1, scale) for _ in range(ops_per_branch)])
    size = rng.randint(1, hi) if input_bytes is None else input_bytes
    ends = [chain[-1] for chain in chains]
    if merge not in ("concat", "add"):
        raise ValueError(f"merge must be 'concat' or 'add' (got {merge!r})")
    return nary_fork_join_graph(size, chains, sum(ends) if merge == "concat" else max(ends))


def parallel_architecture(rng: random.Random, groups: Sequence[int],
                          shape: tuple[int, int, int], pre_pool: float = 1.0,
                          dense_units: int = 64) -> Architecture:
    """Stages of ``groups[i]`` parallel blocks of 3 conv layers each (pre-pool before a conv
    with probability ``pre_pool``; random kinds, kernels, channels, strides): the widest
    stages the search space allows, the worst cases of the peak-memory analysis."""
    from search_engine.space import SearchSpace
    from search_engine.space.architecture import (
        Architecture,
        ConvBlock,
        ConvLayer,
        DenseLayer,
        Pooling,
    )

    blocks = []
    for size in groups:
        for b in range(size):
            layers = []
            for j in range(3):
                kinds = ("full", "depthwise", "1x1") if b == 0 or j < 2 else ("full", "1x1")
                kind = rng.choice(kinds)
                layers.append(ConvLayer(
                    kind=kind, kernel=1 if kind == "1x1" else rng.choice((3, 5, 7)),
                    channels=None if kind == "depthwise" else rng.randint(1, 128),
                    stride=1 if kind == "1x1" else rng.choice((1, 2)),
                    pre_pool=rng.random() < pre_pool, batch_norm=True, relu=True))
            blocks.append(ConvBlock(layers=tuple(layers), parallel=b > 0))
    arch = Architecture(blocks=tuple(blocks), pooling=Pooling("avg", 2),
                        dense=(DenseLayer(dense_units),))
    return SearchSpace(shape, 10).normalise(arch)
