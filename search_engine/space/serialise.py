"""JSON form of architectures and candidates (``"schema_version": 1``), lossless both ways.

``architecture_from_json`` checks the schema (object shapes, field names, types) and every
range, and names the offending field path in its :class:`ArchitectureError`. It returns the
architecture exactly as stored, canonical or not: canonicity and the channel rule of parallel
stages depend on the input shape, so they are checked by ``SearchSpace.validate`` /
``SearchSpace.non_canonical_fields`` (``SearchSpace.from_json`` does both in one call).
"""

from __future__ import annotations

from typing import Any

from search_engine.space.architecture import (
    Architecture,
    Candidate,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
)
from search_engine.space.errors import ArchitectureError
from search_engine.space.validation import check_structure, show, validate_candidate

SCHEMA_VERSION = 1

_LAYER_FIELDS = ("kind", "kernel", "channels", "stride", "pre_pool", "batch_norm", "relu")


def architecture_to_json(arch: Architecture) -> dict[str, Any]:
    """A JSON-ready dict (only dicts, lists, str, int, bool, None) for a valid architecture."""
    check_structure(arch)
    return {
        "schema_version": SCHEMA_VERSION,
        "blocks": [
            {
                "parallel": block.parallel,
                "layers": [{f: getattr(layer, f) for f in _LAYER_FIELDS} for layer in block.layers],
            }
            for block in arch.blocks
        ],
        "pooling": None
        if arch.pooling is None
        else {"kind": arch.pooling.kind, "size": arch.pooling.size},
        "dense": [{"units": layer.units} for layer in arch.dense],
    }


def candidate_to_json(candidate: Candidate) -> dict[str, Any]:
    """JSON-ready dict for a valid candidate: schema version, architecture, sparsity."""
    validate_candidate(candidate)
    return {
        "schema_version": SCHEMA_VERSION,
        "architecture": architecture_to_json(candidate.architecture),
        "sparsity": float(candidate.sparsity),
    }


def _object(
    obj: object, path: str, fields: tuple[str, ...], root: str = "architecture"
) -> dict[str, Any]:
    """``obj`` as a dict with exactly ``fields`` (reports unknown, then missing fields)."""
    if not isinstance(obj, dict):
        raise ArchitectureError(path or root, f"must be an object (got {show(obj)})")
    sep = "." if path else ""
    for key in obj:
        if key not in fields:
            raise ArchitectureError(f"{path}{sep}{key}", "unknown field")
    for key in fields:
        if key not in obj:
            raise ArchitectureError(f"{path}{sep}{key}", "missing field")
    return obj


def _list(obj: object, path: str) -> list[Any]:
    if not isinstance(obj, list):
        raise ArchitectureError(path, f"must be a list (got {show(obj)})")
    return obj


def _schema_version(obj: dict[str, Any], path: str) -> None:
    version = obj["schema_version"]
    if type(version) is not int or version != SCHEMA_VERSION:
        raise ArchitectureError(
            f"{path}schema_version",
            f"unsupported schema version {show(version)} (this reader knows {SCHEMA_VERSION})",
        )


def _architecture(obj: object, path: str) -> Architecture:
    p = f"{path}." if path else ""
    top = _object(obj, path, ("schema_version", "blocks", "pooling", "dense"))
    _schema_version(top, p)
    blocks = []
    for i, block_obj in enumerate(_list(top["blocks"], f"{p}blocks")):
        bp = f"{p}blocks[{i}]"
        block = _object(block_obj, bp, ("parallel", "layers"))
        layers = []
        for j, layer_obj in enumerate(_list(block["layers"], f"{bp}.layers")):
            layer = _object(layer_obj, f"{bp}.layers[{j}]", _LAYER_FIELDS)
            layers.append(ConvLayer(**{f: layer[f] for f in _LAYER_FIELDS}))
        blocks.append(ConvBlock(layers=tuple(layers), parallel=block["parallel"]))
    pooling = None
    if top["pooling"] is not None:
        pool = _object(top["pooling"], f"{p}pooling", ("kind", "size"))
        pooling = Pooling(kind=pool["kind"], size=pool["size"])
    dense = []
    for i, dense_obj in enumerate(_list(top["dense"], f"{p}dense")):
        dense.append(DenseLayer(units=_object(dense_obj, f"{p}dense[{i}]", ("units",))["units"]))
    arch = Architecture(blocks=tuple(blocks), pooling=pooling, dense=tuple(dense))
    try:
        check_structure(arch)
    except ArchitectureError as error:
        raise ArchitectureError(f"{p}{error.path}", error.problem) from None
    return arch


def architecture_from_json(obj: object) -> Architecture:
    """Parse and check (schema, types, ranges) a dict made by :func:`architecture_to_json`."""
    return _architecture(obj, "")


def candidate_from_json(obj: object) -> Candidate:
    """Parse and check a dict made by :func:`candidate_to_json`."""
    top = _object(obj, "", ("schema_version", "architecture", "sparsity"), root="candidate")
    _schema_version(top, "")
    candidate = Candidate(
        architecture=_architecture(top["architecture"], "architecture"),
        sparsity=top["sparsity"],
    )
    validate_candidate(candidate)
    if isinstance(candidate.sparsity, int):
        candidate = Candidate(candidate.architecture, float(candidate.sparsity))
    return candidate
