"""Validity and canonical form of architectures: range checks with field paths, forced channels.

Two levels of checking:

* ``input_channels=None``: the schema and every range (what a JSON file alone can be checked
  for);
* ``input_channels=C``: also the channel rule of parallel stages, which depends on the model
  input's channel count when a stage's first block is made of depthwise layers only.

:func:`normalise` returns the canonical form (see ``docs/search-space.md``): a ``"1x1"`` layer
has kernel 1 and stride 1, a ``"full"`` layer with kernel 1 and stride 1 is written ``"1x1"``,
and the last conv layer of every non-first block of a stage stores the stage's channel count.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import TypeGuard, cast

from search_engine.space.architecture import (
    CONV_KINDS,
    KERNEL_SIZES,
    MAX_BLOCKS,
    MAX_CHANNELS,
    MAX_DENSE,
    MAX_LAYERS,
    MAX_UNITS,
    MIN_BLOCKS,
    MIN_CHANNELS,
    MIN_DENSE,
    MIN_LAYERS,
    MIN_UNITS,
    POOL_KINDS,
    POOL_SIZES,
    STRIDES,
    Architecture,
    Candidate,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
)
from search_engine.space.errors import ArchitectureError


def show(value: object) -> str:
    """A value as a user would write it in JSON (``true``, ``null``, ``"x"``), for messages."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_of(value: object, allowed: tuple[object, ...], path: str) -> None:
    ok = any(type(value) is type(a) and value == a for a in allowed)
    if not ok:
        options = ", ".join(str(a) for a in allowed)
        raise ArchitectureError(path, f"must be one of {options} (got {show(value)})")


def _int_range(value: object, low: int, high: int, path: str) -> None:
    if not _is_int(value) or not low <= value <= high:
        raise ArchitectureError(path, f"must be an integer in {low}..{high} (got {show(value)})")


def _boolean(value: object, path: str) -> None:
    if not isinstance(value, bool):
        raise ArchitectureError(path, f"must be true or false (got {show(value)})")


def _count(items: object, low: int, high: int, what: str, path: str) -> None:
    if not isinstance(items, tuple):
        raise ArchitectureError(path, f"must be a list of {what} (got {show(items)})")
    if not low <= len(items) <= high:
        raise ArchitectureError(path, f"must hold {low} to {high} {what} (got {len(items)})")


def _check_layer(layer: object, path: str) -> None:
    if not isinstance(layer, ConvLayer):
        raise ArchitectureError(path, f"must be a conv layer (got {show(layer)})")
    _one_of(layer.kind, CONV_KINDS, f"{path}.kind")
    _one_of(layer.kernel, KERNEL_SIZES, f"{path}.kernel")
    _one_of(layer.stride, STRIDES, f"{path}.stride")
    if layer.kind == "depthwise":
        if layer.channels is not None:
            raise ArchitectureError(
                f"{path}.channels",
                f"must be null for a depthwise layer (got {show(layer.channels)})",
            )
    else:
        _int_range(layer.channels, MIN_CHANNELS, MAX_CHANNELS, f"{path}.channels")
    _boolean(layer.pre_pool, f"{path}.pre_pool")
    _boolean(layer.batch_norm, f"{path}.batch_norm")
    _boolean(layer.relu, f"{path}.relu")


def check_structure(arch: object) -> None:
    """Schema and range checks that need no input shape; raises :class:`ArchitectureError`."""
    if not isinstance(arch, Architecture):
        raise ArchitectureError("architecture", f"must be an Architecture (got {show(arch)})")
    _count(arch.blocks, MIN_BLOCKS, MAX_BLOCKS, "blocks", "blocks")
    for i, block in enumerate(arch.blocks):
        path = f"blocks[{i}]"
        if not isinstance(block, ConvBlock):
            raise ArchitectureError(path, f"must be a conv block (got {show(block)})")
        _boolean(block.parallel, f"{path}.parallel")
        if i == 0 and block.parallel:
            raise ArchitectureError(
                f"{path}.parallel", "the first block cannot be parallel (got true)"
            )
        _count(block.layers, MIN_LAYERS, MAX_LAYERS, "layers", f"{path}.layers")
        for j, layer in enumerate(block.layers):
            _check_layer(layer, f"{path}.layers[{j}]")
    if arch.pooling is not None:
        if not isinstance(arch.pooling, Pooling):
            raise ArchitectureError(
                "pooling", f"must be null or a pooling (got {show(arch.pooling)})"
            )
        _one_of(arch.pooling.kind, POOL_KINDS, "pooling.kind")
        _one_of(arch.pooling.size, POOL_SIZES, "pooling.size")
    _count(arch.dense, MIN_DENSE, MAX_DENSE, "dense layers", "dense")
    for i, dense in enumerate(arch.dense):
        if not isinstance(dense, DenseLayer):
            raise ArchitectureError(f"dense[{i}]", f"must be a dense layer (got {show(dense)})")
        _int_range(dense.units, MIN_UNITS, MAX_UNITS, f"dense[{i}].units")


def stages(arch: Architecture) -> tuple[tuple[int, ...], ...]:
    """Block indices grouped by stage: a serial block starts a stage, parallel ones join it."""
    groups: list[list[int]] = []
    for i, block in enumerate(arch.blocks):
        if i == 0 or not block.parallel:
            groups.append([i])
        else:
            groups[-1].append(i)
    return tuple(tuple(g) for g in groups)


def canonical_layer(layer: ConvLayer) -> ConvLayer:
    """The canonical spelling of one layer (context-free part of the canonical form)."""
    if layer.kind == "1x1" and (layer.kernel != 1 or layer.stride != 1):
        return replace(layer, kernel=1, stride=1)
    if layer.kind == "full" and layer.kernel == 1 and layer.stride == 1:
        return replace(layer, kind="1x1")
    return layer


def _resolve(
    arch: Architecture, input_channels: int
) -> tuple[Architecture, list[ArchitectureError]]:
    """Canonical form plus the channel-rule violations (for a structurally valid ``arch``)."""
    blocks = list(arch.blocks)
    problems: list[ArchitectureError] = []
    stage_in = input_channels
    for stage in stages(arch):
        stage_count = stage_in
        for pos, b in enumerate(stage):
            layers = [canonical_layer(layer) for layer in arch.blocks[b].layers]
            c = stage_in
            for j, layer in enumerate(layers):
                forced = pos > 0 and j == len(layers) - 1
                if forced and layer.kind == "depthwise":
                    if c != stage_count:
                        problems.append(
                            ArchitectureError(
                                f"blocks[{b}].layers[{j}].kind",
                                f"a depthwise last layer keeps its {c} input channels, but "
                                f"block {b} is added to a stage of {stage_count} channels",
                            )
                        )
                elif forced:
                    if stage_count > MAX_CHANNELS:
                        problems.append(
                            ArchitectureError(
                                f"blocks[{b}].layers[{j}].channels",
                                f"is forced to the stage's {stage_count} channels, above "
                                f"the maximum {MAX_CHANNELS}",
                            )
                        )
                    layers[j] = layer = replace(layer, channels=stage_count)
                if layer.kind != "depthwise":
                    c = cast(int, layer.channels)  # set on every non-depthwise layer
            if pos == 0:
                stage_count = c
            blocks[b] = replace(arch.blocks[b], layers=tuple(layers))
        stage_in = stage_count
    return replace(arch, blocks=tuple(blocks)), problems


def _check_input_channels(input_channels: int) -> None:
    if not _is_int(input_channels) or input_channels < 1:
        raise ValueError(f"input_channels must be a positive integer (got {input_channels!r})")


def validate(arch: object, input_channels: int | None = None) -> None:
    """Raise :class:`ArchitectureError` (naming the field path) unless ``arch`` is valid.

    Valid means: every field has its type and lies in its range, and (when ``input_channels``
    is given) every parallel block can be added to its stage. Non-canonical but valid
    architectures pass; see :func:`normalise` and :func:`non_canonical_fields`.
    """
    check_structure(arch)
    if input_channels is not None:
        _check_input_channels(input_channels)
        # check_structure raised unless arch is an Architecture
        _, problems = _resolve(cast(Architecture, arch), input_channels)
        if problems:
            raise problems[0]


def normalise(arch: Architecture, input_channels: int) -> Architecture:
    """The canonical form of a valid architecture (raises :class:`ArchitectureError` if invalid)."""
    check_structure(arch)
    _check_input_channels(input_channels)
    canonical, problems = _resolve(arch, input_channels)
    if problems:
        raise problems[0]
    return canonical


def non_canonical_fields(arch: Architecture, input_channels: int) -> tuple[str, ...]:
    """One line per field whose stored value differs from the canonical form (valid ``arch``)."""
    canonical = normalise(arch, input_channels)
    notes = []
    for b, (mine, theirs) in enumerate(zip(arch.blocks, canonical.blocks, strict=True)):
        for j, (a, c) in enumerate(zip(mine.layers, theirs.layers, strict=True)):
            for field in ("kind", "kernel", "channels", "stride"):
                got, want = getattr(a, field), getattr(c, field)
                if got != want:
                    notes.append(
                        f"blocks[{b}].layers[{j}].{field}: canonical value is {show(want)} "
                        f"(got {show(got)})"
                    )
    return tuple(notes)


def validate_candidate(candidate: object, input_channels: int | None = None) -> None:
    """Like :func:`validate`, for a :class:`Candidate` (paths start with ``architecture.``)."""
    if not isinstance(candidate, Candidate):
        raise ArchitectureError("candidate", f"must be a Candidate (got {show(candidate)})")
    try:
        validate(candidate.architecture, input_channels)
    except ArchitectureError as error:
        raise ArchitectureError(_prefix("architecture", error.path), error.problem) from None
    s = candidate.sparsity
    if not isinstance(s, int | float) or isinstance(s, bool) or not math.isfinite(s):
        raise ArchitectureError("sparsity", f"must be a number in [0, 1) (got {show(s)})")
    if not 0 <= s < 1:
        raise ArchitectureError("sparsity", f"must be a number in [0, 1) (got {show(s)})")


def _prefix(prefix: str, path: str) -> str:
    if path == "architecture":
        return prefix
    return f"{prefix}.{path}" if path else prefix
