"""Weight inheritance along morphisms (LEMONADE-style; Elsken et al., ICLR 2019).

A child starts from its parent's trained weights instead of a fresh initialisation, and so
needs less training. Morphisms (``space.morphisms``) make one local edit, so the weighted
layers of parent and child (conv, depthwise conv, hidden dense, classifier, in walk order)
line up as a common prefix and a common suffix around the edit: layers are matched from the
front while their roles (conv, pointwise conv, depthwise conv, hidden dense, classifier)
agree, then from the back. A matched pair copies the overlap of each
weight (kernel, bias, batch-norm gamma, beta, moving mean and variance):

* output channels / units: the first ``min(parent, child)`` are copied; a child's extra ones
  keep their fresh initialisation;
* input channels / rows: the overlap is copied and a child's extra rows are **zero**, so the
  extra channels of a widened producer do not change what the consumer computes;
* kernel size: centred; a larger child kernel gets the parent's in its middle and zeros
  around it (with "same" padding: the same function), a smaller one the parent's centre;
* the first dense layer after ``Flatten`` is copied per (h, w) position when the flattened
  map has the same height and width (channels as above); otherwise it is fresh.

Unmatched layers (an inserted layer, a layer whose kind changed, the edit's neighbourhood) are
initialised fresh. So a morphism that only widens a layer, widens a dense layer or enlarges a
kernel gives a child that computes exactly its parent's function before training (tested);
others give a child whose untouched layers start trained.

The parent's weights are those of its masked (pruned in place) model: pruned channels are
zero, so the child's pruner, ranking channels by L2 norm, tends to prune the same ones again.
Weights live in an ``.npz`` file per candidate, with the architecture they belong to
(:func:`save_weights`, :func:`load_weights`); TensorFlow is not imported here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from search_engine.space.architecture import Architecture
from search_engine.train.keras_builder import BN_SUFFIX, INPUT_NAME, layer_specs

_META = "__meta__"
WEIGHTED_KINDS = ("conv2d", "depthwise_conv2d", "dense")


class InheritanceError(ValueError):
    """A weights file that cannot be read or does not belong to its architecture."""


@dataclass(frozen=True)
class ParentWeights:
    """A trained candidate's weights: Keras layer name -> its ``get_weights()`` arrays."""

    architecture: Architecture
    input_shape: tuple[int, int, int]
    num_classes: int
    layers: dict[str, list[np.ndarray]]


@dataclass(frozen=True)
class Inheritance:
    """What a child took from its parent: weighted layers copied whole (same shapes), copied
    in part (overlapping slices), and initialised fresh."""

    exact: int
    partial: int
    fresh: int

    def to_json(self) -> dict[str, int]:
        return {"layers_exact": self.exact, "layers_partial": self.partial,
                "layers_fresh": self.fresh}


# --- files ---------------------------------------------------------------------------------


def save_weights(model: Any, arch: Architecture, input_shape: tuple[int, int, int],
                 num_classes: int, path: str | Path) -> None:
    """Write ``model``'s weights and the architecture they belong to (atomically)."""
    from search_engine.space.serialise import architecture_to_json

    arrays: dict[str, np.ndarray] = {}
    for layer in model.layers:
        for i, w in enumerate(layer.get_weights()):
            arrays[f"{layer.name}/{i}"] = np.asarray(w)
    meta = {"architecture": architecture_to_json(arch), "input_shape": list(input_shape),
            "num_classes": int(num_classes)}
    arrays[_META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    # the keys are layer names, never savez's own keyword allow_pickle
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def load_weights(path: str | Path) -> ParentWeights:
    """The weights written by :func:`save_weights`; :class:`InheritanceError` otherwise."""
    from search_engine.space.search_space import int_shape
    from search_engine.space.serialise import architecture_from_json

    try:
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(bytes(data[_META]).decode("utf-8"))
            layers: dict[str, list[tuple[int, np.ndarray]]] = {}
            for key in data.files:
                if key == _META:
                    continue
                name, _, index = key.rpartition("/")
                layers.setdefault(name, []).append((int(index), np.array(data[key])))
        ordered = {name: [w for _, w in sorted(ws, key=lambda t: t[0])]
                   for name, ws in layers.items()}
        arch = architecture_from_json(meta["architecture"])
        shape = int_shape(meta["input_shape"])
        return ParentWeights(arch, shape, int(meta["num_classes"]), ordered)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InheritanceError(f"cannot read weights {path}: {exc}") from exc


# --- alignment -----------------------------------------------------------------------------


def _role(spec: Any) -> str:
    """What a weighted layer does, for alignment: a pointwise conv is not matched with a
    spatial one (a conv-type morphism changes one into the other)."""
    if spec.kind == "dense":
        return "classifier" if not spec.relu else "dense"
    if spec.kind == "conv2d" and tuple(spec.kernel_size) == (1, 1):
        return "conv2d_1x1"
    kind: str = spec.kind
    return kind


def _weighted(arch: Architecture, input_shape: tuple[int, int, int], num_classes: int
              ) -> list[tuple[Any, tuple[int, ...] | None]]:
    """(spec, the (H, W, C) before Flatten for a dense layer right after it, else None)."""
    specs = layer_specs(arch, input_shape, num_classes)
    shape_of: dict[str, tuple[int, ...]] = {INPUT_NAME: tuple(input_shape)}
    flat_of: dict[str, tuple[int, ...]] = {}
    out = []
    for spec in specs:
        shape_of[spec.name] = tuple(spec.output_shape)
        src = spec.inputs[0]
        if spec.kind == "reshape":
            flat_of[spec.name] = shape_of[src]
        if spec.kind in WEIGHTED_KINDS:
            out.append((spec, flat_of.get(src)))
    return out


def align(parent_roles: list[str], child_roles: list[str]) -> list[tuple[int, int]]:
    """Matched (parent index, child index) pairs: the common prefix of roles, then the common
    suffix of what is left."""
    pairs = []
    n = min(len(parent_roles), len(child_roles))
    front = 0
    while front < n and parent_roles[front] == child_roles[front]:
        pairs.append((front, front))
        front += 1
    back = 1
    while (back <= n - front and parent_roles[-back] == child_roles[-back]):
        pairs.append((len(parent_roles) - back, len(child_roles) - back))
        back += 1
    return sorted(pairs)


# --- copying -------------------------------------------------------------------------------


def blend(fresh: np.ndarray, old: np.ndarray, modes: str) -> np.ndarray:
    """``fresh`` with ``old``'s overlap pasted in. ``modes`` has one letter per axis: ``o``
    (output: overlap copied, the child's extra entries stay fresh), ``i`` (input: overlap
    copied, extra entries zero), ``c`` (centred: like ``i`` but aligned on the centre)."""
    if fresh.ndim != old.ndim or len(modes) != fresh.ndim:
        raise InheritanceError(f"cannot blend shapes {old.shape} -> {fresh.shape}")
    result = np.array(fresh, dtype=fresh.dtype, copy=True)
    kept_out, dst, src = [], [], []
    for mode, n_new, n_old in zip(modes, fresh.shape, old.shape, strict=True):
        m = min(n_new, n_old)
        if mode == "c":
            d_new, d_old = (n_new - m) // 2, (n_old - m) // 2
        else:
            d_new = d_old = 0
        dst.append(slice(d_new, d_new + m))
        src.append(slice(d_old, d_old + m))
        kept_out.append(slice(0, m) if mode == "o" else slice(None))
    result[tuple(kept_out)] = 0  # extra inputs of kept outputs: zero
    result[tuple(dst)] = old[tuple(src)]
    return result


def _kernel_modes(spec: Any) -> str:
    if spec.kind == "conv2d":
        return "ccio"
    if spec.kind == "depthwise_conv2d":
        return "ccoo"
    return "io"


def _copy_layer(model: Any, spec: Any, flat: tuple[int, ...] | None, p_spec: Any,
                p_flat: tuple[int, ...] | None, parent: ParentWeights) -> bool | None:
    """Copy one matched layer; True: whole, False: in part, None: left fresh."""
    old = parent.layers.get(p_spec.name)
    if not old:
        return None
    layer = model.get_layer(spec.name)
    new = layer.get_weights()
    if len(new) != len(old) or spec.use_bias != p_spec.use_bias:
        return None
    kernel_new, kernel_old = new[0], old[0]
    if spec.kind == "dense" and (flat is not None or p_flat is not None):
        if flat is None or p_flat is None or flat[:2] != p_flat[:2]:
            return None  # the flattened map changed height or width: positions differ
        units_new, units_old = kernel_new.shape[1], kernel_old.shape[1]
        k = blend(kernel_new.reshape(*flat, units_new), kernel_old.reshape(*p_flat, units_old),
                  "iiio").reshape(kernel_new.shape)
    else:
        k = blend(kernel_new, kernel_old, _kernel_modes(spec))
    result = [k] + [blend(n, o, "o") for n, o in zip(new[1:], old[1:], strict=True)]
    layer.set_weights(result)
    exact = all(n.shape == o.shape for n, o in zip(new, old, strict=True))
    if getattr(spec, "batch_norm", False):
        bn_old = parent.layers.get(p_spec.name + BN_SUFFIX)
        bn = model.get_layer(spec.name + BN_SUFFIX)
        bn_new = bn.get_weights()
        if bn_old and len(bn_old) == len(bn_new):
            bn.set_weights([blend(n, o, "o") for n, o in zip(bn_new, bn_old, strict=True)])
            exact = exact and all(n.shape == o.shape for n, o in zip(bn_new, bn_old,
                                                                        strict=True))
        else:
            exact = False
    return exact


def inherit_weights(model: Any, arch: Architecture, input_shape: tuple[int, int, int],
                    num_classes: int, parent: ParentWeights) -> Inheritance:
    """Copy ``parent``'s weights into the freshly built Keras ``model`` of ``arch`` (see the
    module docstring); returns what was copied."""
    if tuple(parent.input_shape) != tuple(input_shape) or parent.num_classes != num_classes:
        raise InheritanceError(
            f"parent was trained on {tuple(parent.input_shape)} / {parent.num_classes} classes, "
            f"child is {tuple(input_shape)} / {num_classes}")
    child = _weighted(arch, input_shape, num_classes)
    mine = _weighted(parent.architecture, input_shape, num_classes)
    pairs = align([_role(s) for s, _ in mine], [_role(s) for s, _ in child])
    exact = partial = 0
    for p, c in pairs:
        spec, flat = child[c]
        p_spec, p_flat = mine[p]
        copied = _copy_layer(model, spec, flat, p_spec, p_flat, parent)
        if copied is True:
            exact += 1
        elif copied is False:
            partial += 1
    return Inheritance(exact, partial, len(child) - exact - partial)
