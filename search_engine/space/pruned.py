"""The network that structured pruning leaves, known before training (TensorFlow-free).

Structured pruning (``docs/training.md``) removes whole conv output channels and hidden dense
units. Channels that must stay aligned are pruned together, as one *channel group*:

* a full or 1x1 conv layer starts a new channel space (its output channels);
* a depthwise layer, a pre-pool, a pooling and an alignment pool keep their input's space;
* the blocks of a parallel stage are added element-wise, so their output spaces are one group;
* every hidden dense layer is a group of its own; the classifier is never pruned;
* the group that holds the model input's channels is not prunable.

A prunable group of ``C`` channels keeps exactly :func:`kept_channels` ``(C, s)`` channels at
the end of training, so the pruned architecture (:func:`pruned_architecture`) and its resource
figures (``graph.pruned.pruned_walk`` -> op graph) are known before any training starts.

Pruned hidden dense layers may have fewer units than the search space's minimum (10), which
``validate`` (and so ``graph.walk``) rejects; ``graph.pruned.pruned_walk`` walks such
architectures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, cast

from search_engine.space.architecture import MIN_UNITS, Architecture, DenseLayer
from search_engine.space.serialise import architecture_to_json
from search_engine.space.validation import normalise, stages

INPUT_GROUP = 0


@dataclass(frozen=True)
class ChannelGroup:
    """Channels that are pruned together.

    ``members``: the layers whose weights produce these channels (``"blocks[b].layers[j]"`` of
    full/1x1 convs, ``"dense[i]"``); their kernels' slices score a channel (L2 norm).
    ``followers``: depthwise layers whose channels follow this group (``"blocks[b].layers[j]"``).
    ``size``: the channel (unit) count; ``prunable``: False for the model input's group.
    """

    index: int
    members: tuple[str, ...]
    followers: tuple[str, ...]
    size: int
    prunable: bool


def check_sparsity(sparsity: object) -> float:
    """``sparsity`` as a float in [0, 1); raises ``ValueError`` otherwise."""
    if (
        isinstance(sparsity, bool)
        or not isinstance(sparsity, int | float)
        or not math.isfinite(sparsity)
        or not 0 <= sparsity < 1
    ):
        raise ValueError(f"sparsity must be a number in [0, 1) (got {sparsity!r})")
    return float(sparsity)


def kept_channels(size: int, sparsity: float) -> int:
    """Channels a group of ``size`` keeps at ``sparsity``: max(1, size - floor(s * size))."""
    if size < 1:
        raise ValueError(f"size must be >= 1 (got {size})")
    s = check_sparsity(sparsity)
    return max(1, size - math.floor(s * size))


def channel_groups(
    arch: Architecture, input_shape: tuple[int, int, int]
) -> tuple[ChannelGroup, ...]:
    """The channel groups of ``arch`` (canonicalised first); group 0 is the model input's."""
    arch = normalise(arch, int(input_shape[2]))
    parent: list[int] = [INPUT_GROUP]
    size: list[int] = [int(input_shape[2])]
    owner: dict[str, tuple[int, bool]] = {}  # source -> (space, is_member)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def new_space(channels: int) -> int:
        parent.append(len(parent))
        size.append(channels)
        return len(parent) - 1

    current = INPUT_GROUP
    for stage in stages(arch):
        outputs = []
        for b in stage:
            space = current
            for j, layer in enumerate(arch.blocks[b].layers):
                source = f"blocks[{b}].layers[{j}]"
                if layer.kind == "depthwise":
                    owner[source] = (space, False)
                else:
                    # only a depthwise layer has no channel count of its own
                    space = new_space(cast(int, layer.channels))
                    owner[source] = (space, True)
            outputs.append(space)
        root = find(outputs[0])
        for other in outputs[1:]:
            r = find(other)
            if r != root:
                # keep the input group's id as the root so it stays group 0
                lo, hi = min(root, r), max(root, r)
                parent[hi] = lo
                root = lo
        current = root
    for i, dense in enumerate(arch.dense):
        owner[f"dense[{i}]"] = (new_space(dense.units), True)

    roots = sorted({find(x) for x in range(len(parent))})
    index = {r: k for k, r in enumerate(roots)}
    members: dict[int, list[str]] = {r: [] for r in roots}
    followers: dict[int, list[str]] = {r: [] for r in roots}
    for source, (space, is_member) in owner.items():
        (members if is_member else followers)[find(space)].append(source)
    groups = []
    for r in roots:
        sizes = {size[x] for x in range(len(parent)) if find(x) == r}
        if len(sizes) != 1:  # cannot happen for a normalised architecture
            raise ValueError(f"channel group of {members[r]} has unequal sizes {sorted(sizes)}")
        groups.append(
            ChannelGroup(
                index=index[r],
                members=tuple(members[r]),
                followers=tuple(followers[r]),
                size=sizes.pop(),
                prunable=r != INPUT_GROUP,
            )
        )
    return tuple(groups)


def group_of_sources(groups: tuple[ChannelGroup, ...]) -> dict[str, int]:
    """Layer source (``"blocks[b].layers[j]"``, ``"dense[i]"``) -> index of its output group."""
    out: dict[str, int] = {}
    for g in groups:
        for source in (*g.members, *g.followers):
            out[source] = g.index
    return out


def kept_per_group(
    groups: tuple[ChannelGroup, ...], sparsity: float
) -> tuple[int, ...]:
    """Channels each group keeps at ``sparsity`` (unprunable groups keep all)."""
    return tuple(kept_channels(g.size, sparsity) if g.prunable else g.size for g in groups)


def pruned_architecture(
    arch: Architecture, sparsity: float, input_shape: tuple[int, int, int]
) -> Architecture:
    """The canonical architecture left after pruning ``arch`` to ``sparsity``.

    Every prunable group of C channels keeps :func:`kept_channels` (C, sparsity); hidden dense
    layers may end below the search space's 10-unit minimum (see ``graph.pruned.pruned_walk``).
    """
    sparsity = check_sparsity(sparsity)
    arch = normalise(arch, int(input_shape[2]))
    groups = channel_groups(arch, input_shape)
    kept = kept_per_group(groups, sparsity)
    blocks = list(arch.blocks)
    for g in groups:
        for source in g.members:
            if source.startswith("dense["):
                continue
            b, j = _block_layer(source)
            layers = list(blocks[b].layers)
            layers[j] = replace(layers[j], channels=kept[g.index])
            blocks[b] = replace(blocks[b], layers=tuple(layers))
    dense = list(arch.dense)
    group_of = group_of_sources(groups)
    for i in range(len(dense)):
        dense[i] = DenseLayer(units=kept[group_of[f"dense[{i}]"]])
    return replace(arch, blocks=tuple(blocks), dense=tuple(dense))


def _block_layer(source: str) -> tuple[int, int]:
    # "blocks[3].layers[1]" -> (3, 1)
    head, _, tail = source.partition(".")
    return int(head[len("blocks[") : -1]), int(tail[len("layers[") : -1])


def pruned_architecture_to_json(arch: Architecture) -> dict[str, Any]:
    """JSON of a (pruned) architecture in the schema of ``architecture_to_json``, accepting
    hidden dense layers below the search space's 10-unit minimum."""
    units = [layer.units for layer in arch.dense]
    proxy = replace(arch, dense=tuple(DenseLayer(max(u, MIN_UNITS)) for u in units))
    out = architecture_to_json(proxy)
    out["dense"] = [{"units": int(u)} for u in units]
    return out
