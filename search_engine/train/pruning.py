"""Structured pruning for Keras 3 models built by ``keras_builder``: masks, scores, schedule.

* Channel groups come from ``space.pruned.channel_groups`` (channels that stay aligned are
  pruned together; the model input's group and the classifier are never pruned).
* A group's score per channel is the L2 norm over all member kernels' slices for that channel
  (full/1x1 conv kernels ``[..., c]``, dense kernel columns); the ``kept(C, s)`` channels with
  the largest scores stay (ties: lower index first).
* Masks act IN-GRAPH: every masked weight (conv kernel slice, bias, BN gamma and beta;
  depthwise kernel slice, bias, BN gamma and beta of the layers that follow the group; dense
  kernel columns and bias) gets a Keras constraint ``w * mask`` (``mask``: a non-trainable
  variable of the weight's shape) that the optimiser applies right after each update, inside
  the compiled train step, so masked weights stay exactly zero and there is no per-batch
  Python. A masked channel so outputs exactly 0 after BN and ReLU, and everything downstream
  of it ignores it.
* The sparsity follows the gradual cubic schedule of Zhu & Gupta (2017),
  :func:`cubic_sparsity`, recomputed at every epoch boundary by the pruning callback (a cheap
  numpy pass over the member kernels, then the masks are assigned), and set to the target at
  the end of training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from search_engine.space.architecture import Architecture
from search_engine.space.pruned import (
    ChannelGroup,
    channel_groups,
    check_sparsity,
    kept_channels,
)
from search_engine.train.keras_builder import BN_SUFFIX, layer_specs


class PruningError(ValueError):
    """Masks that do not fit the model (wrong group, shape or kept count)."""


@dataclass(frozen=True)
class MaskedWeight:
    """One weight that a group's mask multiplies: ``layer.attribute`` along ``axis``."""

    layer: str
    attribute: str  # "kernel", "bias", "gamma", "beta"
    axis: int


@dataclass(frozen=True)
class GroupPlan:
    """A channel group with the Keras weights that score it and the weights its mask zeroes."""

    group: ChannelGroup
    scored: tuple[str, ...]  # layer names whose kernels' output slices score the channels
    masked: tuple[MaskedWeight, ...]


def cubic_sparsity(epoch: float, target: float, start: float, end: float) -> float:
    """Zhu & Gupta's schedule: 0 up to ``start``, ``target`` from ``end``, cubic in between.

    s(t) = s_f * (1 - (1 - (t - t0) / (t1 - t0))^3); ``start == end`` is a step at ``start``.
    """
    if epoch < start:
        return 0.0
    if epoch >= end:
        return float(target)
    frac = (epoch - start) / (end - start)
    return float(target) * (1.0 - (1.0 - frac) ** 3)


def pruning_window(start: int, end: int, epochs: int) -> tuple[int, int]:
    """The schedule's (start, end) epochs clamped so that pruning ends by the last epoch.

    Masks are recomputed at the start of each epoch 0..epochs-1; a schedule whose end lies at
    or after ``epochs`` (a short "quick" run) would never reach its target, so the end is
    clamped to ``epochs - 1`` (and the start to the end).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1 (got {epochs})")
    end = min(max(int(end), 0), epochs - 1)
    start = min(max(int(start), 0), end)
    return start, end


def plan_groups(arch: Architecture, input_shape: tuple[int, int, int]) -> tuple[GroupPlan, ...]:
    """The prunable groups of ``arch`` mapped to the Keras layer names of ``keras_builder``."""
    groups = channel_groups(arch, cast("tuple[int, int, int]", tuple(input_shape)))
    weighted = ("conv2d", "depthwise_conv2d", "dense")  # a pre-pool shares its conv's source
    specs = {s.source: s for s in layer_specs(arch, input_shape, 2) if s.kind in weighted}
    plans = []
    for g in groups:
        if not g.prunable:
            continue
        scored, masked = [], []
        for source in g.members:
            spec = specs[source]
            scored.append(spec.name)
            masked.append(MaskedWeight(spec.name, "kernel", -1))
        for source in (*g.members, *g.followers):
            spec = specs[source]
            if spec.kind == "depthwise_conv2d":
                masked.append(MaskedWeight(spec.name, "kernel", 2))
            if spec.use_bias:
                masked.append(MaskedWeight(spec.name, "bias", 0))
            if spec.batch_norm:
                masked.append(MaskedWeight(spec.name + BN_SUFFIX, "gamma", 0))
                masked.append(MaskedWeight(spec.name + BN_SUFFIX, "beta", 0))
        plans.append(GroupPlan(g, tuple(scored), tuple(masked)))
    return tuple(plans)


def _broadcast(mask: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = len(mask)
    return mask.reshape(shape)


def channel_scores(model: Any, plan: GroupPlan) -> np.ndarray:
    """L2 norm of each channel of ``plan``'s group over all its member kernels' slices."""
    total = np.zeros(plan.group.size, dtype=np.float64)
    for name in plan.scored:
        k = np.asarray(model.get_layer(name).kernel.numpy(), dtype=np.float64)
        total += np.sum(k.reshape(-1, k.shape[-1]) ** 2, axis=0)
    return np.sqrt(total)


def ranked_masks(
    model: Any, plans: Sequence[GroupPlan], sparsity: float
) -> dict[int, np.ndarray]:
    """Group index -> keep mask of the kept(C, s) channels with the largest L2 norms.

    Ties go to the lower channel index (stable sort), so the result is deterministic.
    """
    sparsity = check_sparsity(sparsity)
    out = {}
    for plan in plans:
        keep = kept_channels(plan.group.size, sparsity)
        order = np.argsort(-channel_scores(model, plan), kind="stable")
        mask = np.zeros(plan.group.size, dtype=bool)
        mask[order[:keep]] = True
        out[plan.group.index] = mask
    return out


class MaskConstraint:
    """Keras constraint ``w -> w * mask``, ``mask`` a non-trainable variable of ``w``'s shape.

    The mask is stored already broadcast to the weight's shape, so the in-graph cost per
    masked weight and step is one multiply (plus the assign Keras does for every constraint).
    """

    def __init__(self, mask: Any) -> None:
        self.mask = mask

    def __call__(self, w: Any) -> Any:
        return w * self.mask

    def get_config(self) -> dict[str, Any]:  # constraints must be serialisable; masks are not saved
        return {}


class Pruner:
    """The masks of one Keras model: scoring, updating, applying, reading.

    ``Pruner(model, arch, input_shape)`` attaches a :class:`MaskConstraint` (all ones) to every
    masked weight of every prunable group. Call :meth:`update` with a
    sparsity to recompute masks by L2 norm, or :meth:`set_masks` to impose masks (tests).
    """

    def __init__(self, model: Any, arch: Architecture, input_shape: tuple[int, int, int]) -> None:
        import keras

        self.model = model
        self.plans = plan_groups(arch, input_shape)
        self.sparsity = 0.0
        self._group_masks: list[np.ndarray] = []
        self._weights: list[list[tuple[Any, Any, int]]] = []  # (weight, its mask, axis)
        for plan in self.plans:
            self._group_masks.append(np.ones(plan.group.size, dtype=bool))
            weights = []
            for mw in plan.masked:
                var = getattr(model.get_layer(mw.layer), mw.attribute)
                ndim = len(var.shape)
                axis = mw.axis if mw.axis >= 0 else ndim + mw.axis
                if var.shape[axis] != plan.group.size:
                    raise PruningError(
                        f"{mw.layer}.{mw.attribute} has {var.shape[axis]} channels on axis "
                        f"{axis}, its group {plan.group.size}"
                    )
                mask = keras.Variable(
                    np.ones(tuple(var.shape), dtype=np.float32), trainable=False,
                    dtype=var.dtype, name=f"{mw.layer}_{mw.attribute}_mask",
                )
                var.constraint = MaskConstraint(mask)
                weights.append((var, mask, axis))
            self._weights.append(weights)

    @property
    def groups(self) -> tuple[ChannelGroup, ...]:
        return tuple(p.group for p in self.plans)

    def scores(self) -> list[np.ndarray]:
        """Per prunable group: the L2 norm of each channel over all member kernels."""
        return [channel_scores(self.model, plan) for plan in self.plans]

    def masks(self) -> dict[int, np.ndarray]:
        """Group index -> boolean keep mask (prunable groups only)."""
        return {
            p.group.index: m.copy() for p, m in zip(self.plans, self._group_masks, strict=True)
        }

    def update(self, sparsity: float) -> None:
        """Recompute every mask at ``sparsity`` (top kept(C, s) by L2 norm) and apply it."""
        self.set_masks(ranked_masks(self.model, self.plans, sparsity))
        self.sparsity = check_sparsity(sparsity)

    def set_masks(self, masks: Mapping[int, Sequence[bool] | np.ndarray]) -> None:
        """Impose boolean keep masks (group index -> mask) and zero the masked weights now."""
        by_index = {p.group.index: i for i, p in enumerate(self.plans)}
        unknown = set(masks) - set(by_index)
        if unknown:
            raise PruningError(f"no prunable channel group with index {sorted(unknown)}")
        for index, mask in masks.items():
            i = by_index[index]
            m = np.asarray(mask, dtype=bool).reshape(-1)
            if m.shape != (self.plans[i].group.size,):
                raise PruningError(
                    f"mask of group {index} has {m.size} entries, the group "
                    f"{self.plans[i].group.size} channels"
                )
            if not m.any():
                raise PruningError(f"mask of group {index} keeps no channel")
            self._group_masks[i] = m.copy()
            values = m.astype(np.float32)
            for var, mask, axis in self._weights[i]:
                full = np.broadcast_to(_broadcast(values, len(var.shape), axis), var.shape)
                mask.assign(full)
                var.assign(var.numpy() * full)

    def apply(self) -> None:
        """Multiply every masked weight by its mask again (after loading weights, say)."""
        self.set_masks(self.masks())


class PruningSchedule:
    """The cubic schedule of one run: target sparsity and the clamped pruning window."""

    def __init__(self, target: float, start: int, end: int, epochs: int) -> None:
        self.target = check_sparsity(target)
        self.start, self.end = pruning_window(start, end, epochs)
        self.epochs = epochs

    def at_epoch(self, epoch: int) -> float:
        """Sparsity used during ``epoch`` (0-based; masks are recomputed at its start)."""
        return cubic_sparsity(epoch, self.target, self.start, self.end)


def make_pruning_callback(pruner: Pruner, schedule: PruningSchedule) -> Any:
    """A Keras callback that updates ``pruner`` at each epoch start and at the end of training."""
    import keras

    class PruningCallback(keras.callbacks.Callback):  # type: ignore[misc]  # keras is untyped: Callback is Any
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            s = schedule.at_epoch(epoch)
            if s > 0 and not math.isclose(s, pruner.sparsity):
                pruner.update(s)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if logs is not None:
                logs["sparsity"] = pruner.sparsity

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            if schedule.target > 0 and not math.isclose(pruner.sparsity, schedule.target):
                pruner.update(schedule.target)

    return PruningCallback()
