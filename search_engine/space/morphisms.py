"""Morphisms of paper Table 1: small random edits that turn a parent into a child.

Every morphism kind lists its *sites* (where it can act) for a canonical parent and applies
itself at one site. :func:`mutate` chooses a kind uniformly among the kinds that can act, a
site uniformly among that kind's sites, and keeps the child only when it is valid and, in
canonical form, differs from the parent; otherwise it tries another site, then another kind.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from search_engine.space.architecture import (
    CONV_KINDS,
    KERNEL_SIZES,
    MAX_BLOCKS,
    MAX_CHANNELS,
    MAX_DENSE,
    MAX_LAYERS,
    MAX_UNITS,
    MIN_CHANNELS,
    MIN_UNITS,
    POOL_SIZES,
    Architecture,
    ConvBlock,
    ConvLayer,
    Pooling,
)
from search_engine.space.errors import ArchitectureError
from search_engine.space.sampling import sample_block, sample_dense, sample_layer, sample_pooling
from search_engine.space.validation import normalise, stages

CHANNEL_STEPS = (-5, -3, -1, 1, 3, 5)
UNIT_STEPS = (-5, -3, -1, 1, 3, 5)
KERNEL_STEPS = (-2, 2)
POOL_STEPS = (-2, 2)
RANDOM_TRIES = 10  # redraws of the random part (new block, layer, ...) at one site

Site = Any


@dataclass(frozen=True)
class _Context:
    rng: random.Random
    input_channels: int


@dataclass(frozen=True)
class _Morphism:
    name: str
    sites: Callable[[Architecture], list[Site]]
    apply: Callable[[Architecture, Site, _Context], Architecture]
    random_part: bool = False


# --- helpers -------------------------------------------------------------------------------


def _layers(arch: Architecture) -> list[tuple[int, int]]:
    return [(b, j) for b, block in enumerate(arch.blocks) for j in range(len(block.layers))]


def _set_layer(arch: Architecture, b: int, j: int, layer: ConvLayer) -> Architecture:
    block = arch.blocks[b]
    layers = block.layers[:j] + (layer,) + block.layers[j + 1 :]
    return _set_block(arch, b, replace(block, layers=layers))


def _set_block(arch: Architecture, b: int, block: ConvBlock) -> Architecture:
    return replace(arch, blocks=arch.blocks[:b] + (block,) + arch.blocks[b + 1 :])


def _edit_layer(arch: Architecture, b: int, j: int, **changes: Any) -> Architecture:
    return _set_layer(arch, b, j, replace(arch.blocks[b].layers[j], **changes))


def layer_input_channels(arch: Architecture, input_channels: int) -> dict[tuple[int, int], int]:
    """Input channel count of every layer ``(block, layer)`` of a canonical architecture."""
    result = {}
    stage_in = input_channels
    for stage in stages(arch):
        stage_out = stage_in
        for pos, b in enumerate(stage):
            c = stage_in
            for j, layer in enumerate(arch.blocks[b].layers):
                result[(b, j)] = c
                if layer.channels is not None:
                    c = layer.channels
            if pos == 0:
                stage_out = c
        stage_in = stage_out
    return result


def _clamp_channels(c: int) -> int:
    return max(MIN_CHANNELS, min(MAX_CHANNELS, c))


# --- blocks --------------------------------------------------------------------------------


def _append_block_sites(arch: Architecture) -> list[Site]:
    return [None] if len(arch.blocks) < MAX_BLOCKS else []


def _append_block(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    return replace(arch, blocks=arch.blocks + (sample_block(ctx.rng, first=False),))


def _remove_block_sites(arch: Architecture) -> list[Site]:
    return list(range(len(arch.blocks))) if len(arch.blocks) > 1 else []


def _remove_block(arch: Architecture, b: int, ctx: _Context) -> Architecture:
    blocks = arch.blocks[:b] + arch.blocks[b + 1 :]
    if blocks[0].parallel:
        blocks = (replace(blocks[0], parallel=False),) + blocks[1:]
    return replace(arch, blocks=blocks)


def _toggle_parallel_sites(arch: Architecture) -> list[Site]:
    return list(range(1, len(arch.blocks)))


def _toggle_parallel(arch: Architecture, b: int, ctx: _Context) -> Architecture:
    block = arch.blocks[b]
    return _set_block(arch, b, replace(block, parallel=not block.parallel))


# --- layers --------------------------------------------------------------------------------


def _insert_layer_sites(arch: Architecture) -> list[Site]:
    return [
        (b, j)
        for b, block in enumerate(arch.blocks)
        if len(block.layers) < MAX_LAYERS
        for j in range(len(block.layers) + 1)
    ]


def _insert_layer(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    b, j = site
    block = arch.blocks[b]
    layers = block.layers[:j] + (sample_layer(ctx.rng),) + block.layers[j:]
    return _set_block(arch, b, replace(block, layers=layers))


def _remove_layer_sites(arch: Architecture) -> list[Site]:
    return [
        (b, j)
        for b, block in enumerate(arch.blocks)
        if len(block.layers) > 1
        for j in range(len(block.layers))
    ]


def _remove_layer(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    b, j = site
    block = arch.blocks[b]
    return _set_block(arch, b, replace(block, layers=block.layers[:j] + block.layers[j + 1 :]))


def _toggle(field: str) -> Callable[[Architecture, Site, _Context], Architecture]:
    def apply(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
        b, j = site
        return _edit_layer(arch, b, j, **{field: not getattr(arch.blocks[b].layers[j], field)})

    return apply


def _conv_type_sites(arch: Architecture) -> list[Site]:
    return [
        (b, j, kind)
        for b, j in _layers(arch)
        for kind in CONV_KINDS
        if kind != arch.blocks[b].layers[j].kind
    ]


def _change_conv_type(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    """Full/depthwise keep K and S; a former 1x1 gets K=3; channels default to the input's."""
    b, j, kind = site
    layer = arch.blocks[b].layers[j]
    c_in = layer_input_channels(arch, ctx.input_channels)[(b, j)]
    channels = layer.channels if layer.channels is not None else _clamp_channels(c_in)
    if kind == "1x1":
        return _edit_layer(arch, b, j, kind=kind, kernel=1, stride=1, channels=channels)
    kernel = 3 if layer.kind == "1x1" else layer.kernel
    return _edit_layer(
        arch,
        b,
        j,
        kind=kind,
        kernel=kernel,
        channels=None if kind == "depthwise" else channels,
    )


def _spatial_layers(arch: Architecture) -> list[tuple[int, int]]:
    return [(b, j) for b, j in _layers(arch) if arch.blocks[b].layers[j].kind != "1x1"]


def _kernel_sites(arch: Architecture) -> list[Site]:
    return [
        (b, j, d)
        for b, j in _spatial_layers(arch)
        for d in KERNEL_STEPS
        if arch.blocks[b].layers[j].kernel + d in KERNEL_SIZES
    ]


def _change_kernel(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    b, j, d = site
    return _edit_layer(arch, b, j, kernel=arch.blocks[b].layers[j].kernel + d)


def _channel_sites(arch: Architecture) -> list[Site]:
    return [
        (b, j, d)
        for b, j in _layers(arch)
        if (channels := arch.blocks[b].layers[j].channels) is not None
        for d in CHANNEL_STEPS
        if MIN_CHANNELS <= channels + d <= MAX_CHANNELS
    ]


def _change_channels(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    b, j, d = site
    return _edit_layer(arch, b, j, channels=arch.blocks[b].layers[j].channels + d)


def _stride_sites(arch: Architecture) -> list[Site]:
    return _spatial_layers(arch)


def _change_stride(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    b, j = site
    return _edit_layer(arch, b, j, stride=3 - arch.blocks[b].layers[j].stride)


# --- pooling and dense -----------------------------------------------------------------------


def _always(arch: Architecture) -> list[Site]:
    return [None]


def _if_pooling(arch: Architecture) -> list[Site]:
    return [None] if arch.pooling is not None else []


def _toggle_pooling(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    return replace(arch, pooling=sample_pooling(ctx.rng) if arch.pooling is None else None)


def _pooling(arch: Architecture) -> Pooling:
    # the pooling morphisms offer sites only for an architecture that has a pooling layer
    return cast(Pooling, arch.pooling)


def _change_pooling_type(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    pooling = _pooling(arch)
    kind = "max" if pooling.kind == "avg" else "avg"
    return replace(arch, pooling=replace(pooling, kind=kind))


def _pool_size_sites(arch: Architecture) -> list[Site]:
    if arch.pooling is None:
        return []
    return [d for d in POOL_STEPS if arch.pooling.size + d in POOL_SIZES]


def _change_pooling_size(arch: Architecture, d: int, ctx: _Context) -> Architecture:
    pooling = _pooling(arch)
    return replace(arch, pooling=replace(pooling, size=pooling.size + d))


def _insert_dense_sites(arch: Architecture) -> list[Site]:
    return list(range(len(arch.dense) + 1)) if len(arch.dense) < MAX_DENSE else []


def _insert_dense(arch: Architecture, i: int, ctx: _Context) -> Architecture:
    return replace(arch, dense=arch.dense[:i] + (sample_dense(ctx.rng),) + arch.dense[i:])


def _remove_dense_sites(arch: Architecture) -> list[Site]:
    return list(range(len(arch.dense))) if len(arch.dense) > 1 else []


def _remove_dense(arch: Architecture, i: int, ctx: _Context) -> Architecture:
    return replace(arch, dense=arch.dense[:i] + arch.dense[i + 1 :])


def _unit_sites(arch: Architecture) -> list[Site]:
    return [
        (i, d)
        for i, layer in enumerate(arch.dense)
        for d in UNIT_STEPS
        if MIN_UNITS <= layer.units + d <= MAX_UNITS
    ]


def _change_units(arch: Architecture, site: Site, ctx: _Context) -> Architecture:
    i, d = site
    layer = arch.dense[i]
    dense = arch.dense[:i] + (replace(layer, units=layer.units + d),) + arch.dense[i + 1 :]
    return replace(arch, dense=dense)


_ALL: tuple[_Morphism, ...] = (
    _Morphism("append_block", _append_block_sites, _append_block, random_part=True),
    _Morphism("remove_block", _remove_block_sites, _remove_block),
    _Morphism("toggle_parallel", _toggle_parallel_sites, _toggle_parallel),
    _Morphism("insert_layer", _insert_layer_sites, _insert_layer, random_part=True),
    _Morphism("remove_layer", _remove_layer_sites, _remove_layer),
    _Morphism("toggle_pre_pool", _layers, _toggle("pre_pool")),
    _Morphism("toggle_batch_norm", _layers, _toggle("batch_norm")),
    _Morphism("toggle_relu", _layers, _toggle("relu")),
    _Morphism("change_conv_type", _conv_type_sites, _change_conv_type),
    _Morphism("change_kernel", _kernel_sites, _change_kernel),
    _Morphism("change_channels", _channel_sites, _change_channels),
    _Morphism("change_stride", _stride_sites, _change_stride),
    _Morphism("toggle_pooling", _always, _toggle_pooling, random_part=True),
    _Morphism("change_pooling_type", _if_pooling, _change_pooling_type),
    _Morphism("change_pooling_size", _pool_size_sites, _change_pooling_size),
    _Morphism("insert_dense", _insert_dense_sites, _insert_dense, random_part=True),
    _Morphism("remove_dense", _remove_dense_sites, _remove_dense),
    _Morphism("change_units", _unit_sites, _change_units),
)

MORPHISMS: tuple[str, ...] = tuple(m.name for m in _ALL)
_BY_NAME = {m.name: m for m in _ALL}


def morphism_sites(arch: Architecture, name: str) -> list[Site]:
    """The sites where morphism ``name`` can act on canonical ``arch`` (may include no-ops)."""
    return _BY_NAME[name].sites(arch)


def mutate(
    arch: Architecture,
    rng: random.Random,
    input_channels: int,
    kinds: tuple[str, ...] = MORPHISMS,
) -> tuple[Architecture, str]:
    """A valid, canonical child that differs from ``arch``, and the morphism that made it.

    ``kinds`` restricts the morphisms to choose from (all by default). Raises
    :class:`ArchitectureError` if ``arch`` is invalid or none of ``kinds`` can change it.
    """
    parent = normalise(arch, input_channels)
    ctx = _Context(rng=rng, input_channels=input_channels)
    candidates = [_BY_NAME[name] for name in kinds]
    candidates = [m for m in candidates if m.sites(parent)]
    while candidates:
        morphism = candidates.pop(rng.randrange(len(candidates)))
        sites = morphism.sites(parent)
        while sites:
            site = sites.pop(rng.randrange(len(sites)))
            for _ in range(RANDOM_TRIES if morphism.random_part else 1):
                try:
                    child = normalise(morphism.apply(parent, site, ctx), input_channels)
                except ArchitectureError:
                    continue
                if child != parent:
                    return child, morphism.name
    raise ArchitectureError("", f"no morphism among {', '.join(kinds)} changes this architecture")
