"""Masked (pruned-in-place) Keras model -> the smaller dense Keras model it stands for.

``materialise`` builds the model of ``space.pruned.pruned_architecture`` with the same builder
and copies the kept slices of every weight: conv kernels (kept input AND output channels),
biases, batch-norm gamma, beta, moving mean and moving variance, depthwise kernels, dense
kernels (kept input rows and output columns; the first dense layer after ``Flatten`` keeps the
rows of the kept channels at every (h, w) of the flattened H*W*C input). Masked channels output
exactly zero in the masked model, so both models compute the same function (tests check it to
1e-5). The resource figures reported for a candidate are those of this smaller model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from search_engine.space.architecture import Architecture
from search_engine.space.pruned import (
    INPUT_GROUP,
    ChannelGroup,
    channel_groups,
    check_sparsity,
    group_of_sources,
    kept_channels,
    pruned_architecture,
)
from search_engine.space.search_space import int_shape
from search_engine.train.keras_builder import (
    BN_SUFFIX,
    INPUT_NAME,
    build_keras_model,
    layer_specs,
)
from search_engine.train.pruning import PruningError, plan_groups, ranked_masks


def _kept_indices(
    groups: tuple[ChannelGroup, ...], sparsity: float, masks: Mapping[int, np.ndarray]
) -> dict[int, np.ndarray]:
    out = {}
    for g in groups:
        if not g.prunable:
            out[g.index] = np.arange(g.size)
            continue
        if g.index not in masks:
            raise PruningError(f"no mask for prunable channel group {g.index}")
        m = np.asarray(masks[g.index], dtype=bool).reshape(-1)
        want = kept_channels(g.size, sparsity)
        if m.size != g.size or int(m.sum()) != want:
            raise PruningError(
                f"mask of group {g.index} keeps {int(m.sum())} of {m.size} channels; "
                f"sparsity {sparsity} keeps {want} of {g.size}"
            )
        out[g.index] = np.flatnonzero(m)
    return out


def materialise(
    masked_model: Any,  # a Keras model (untyped)
    arch: Architecture,
    sparsity: float,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    masks: Mapping[int, np.ndarray] | None = None,
) -> tuple[Any, Architecture]:
    """(smaller dense Keras model, pruned architecture) equivalent to ``masked_model``.

    ``masks``: group index -> boolean keep mask (``Pruner.masks()``); without it the kept
    channels are ranked by L2 norm exactly as the pruner ranks them (the masked channels have
    zero norm). Each prunable group must keep exactly kept(C, sparsity) channels.
    """
    sparsity = check_sparsity(sparsity)
    input_shape = int_shape(input_shape)
    groups = channel_groups(arch, input_shape)
    if masks is None:
        masks = ranked_masks(masked_model, plan_groups(arch, input_shape), sparsity)
    keep = _kept_indices(groups, sparsity, masks)
    group_of = group_of_sources(groups)

    specs = layer_specs(arch, input_shape, num_classes)
    pruned = pruned_architecture(arch, sparsity, input_shape)
    small = build_keras_model(pruned, input_shape, num_classes)

    out_group: dict[str, int | None] = {INPUT_NAME: INPUT_GROUP}
    shape_of: dict[str, tuple[int, ...]] = {INPUT_NAME: input_shape}
    input_of = {spec.name: spec.inputs[0] for spec in specs}

    def rows(name: str) -> np.ndarray:
        """Kept channel indices of tensor ``name`` (flattened positions after Flatten)."""
        g = out_group[name]
        if g is not None:
            return keep[g]
        shape = shape_of[name]
        if len(shape) == 1 and name in input_of and len(shape_of[input_of[name]]) == 3:
            inner = input_of[name]  # Flatten: kept channels at every (h, w)
            h, w, c = shape_of[inner]
            return np.arange(h * w * c).reshape(h, w, c)[:, :, rows(inner)].reshape(-1)
        return np.arange(shape[-1])

    for spec in specs:
        shape_of[spec.name] = spec.output_shape
        src = spec.inputs[0]
        if spec.kind in ("max_pool", "avg_pool", "add"):  # (a pre-pool has its conv's source)
            out_group[spec.name] = out_group[src]
        elif spec.source is not None and spec.source in group_of:
            out_group[spec.name] = group_of[spec.source]
        else:  # reshape (see rows), classifier (never pruned)
            out_group[spec.name] = None
        if spec.kind in ("conv2d", "dense"):
            cols = rows(spec.name)
            k = masked_model.get_layer(spec.name).get_weights()
            in_idx = rows(src)
            if spec.kind == "conv2d":
                new = [k[0][:, :, in_idx, :][..., cols]]
            else:
                new = [k[0][in_idx][:, cols]]
            if spec.use_bias:
                new.append(k[1][cols])
            small.get_layer(spec.name).set_weights(new)
        elif spec.kind == "depthwise_conv2d":
            cols = rows(spec.name)
            k = masked_model.get_layer(spec.name).get_weights()
            new = [k[0][:, :, cols, :]]
            if spec.use_bias:
                new.append(k[1][cols])
            small.get_layer(spec.name).set_weights(new)
        else:
            continue
        if spec.batch_norm:
            bn = masked_model.get_layer(spec.name + BN_SUFFIX).get_weights()
            small.get_layer(spec.name + BN_SUFFIX).set_weights([w[cols] for w in bn])
    return small, pruned
