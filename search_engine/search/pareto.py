"""Pareto dominance and the exact hypervolume of a front (all objectives minimised).

The hypervolume is measured in objective space normalised by a reference point (the user's
bounds): each point ``p`` contributes the box between ``p / r`` and ``(1, ..., 1)``, so the value is
in ``[0, 1]`` and comparable across searches with the same bounds. Points outside the reference
box contribute nothing.
"""

from __future__ import annotations

from collections.abc import Sequence


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def pareto_front(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated points (duplicates of a front point all stay)."""
    return [
        i for i, p in enumerate(points)
        if not any(dominates(q, p) for j, q in enumerate(points) if j != i)
    ]


def _front(points: list[tuple[float, ...]]) -> list[tuple[float, ...]]:
    unique = sorted(set(points))
    return [p for p in unique if not any(dominates(q, p) for q in unique if q != p)]


def _hv(points: list[tuple[float, ...]]) -> float:
    """Volume dominated by ``points`` inside the unit box (reference 1 in every axis)."""
    if not points:
        return 0.0
    if len(points[0]) == 1:
        return 1.0 - min(p[0] for p in points)
    # Slice along the first axis: between consecutive x values the dominated region's cross
    # section is the hypervolume of the points to the left, projected on the other axes.
    pts = sorted(_front(points))
    volume = 0.0
    for i, p in enumerate(pts):
        upper = pts[i + 1][0] if i + 1 < len(pts) else 1.0
        width = upper - p[0]
        if width > 0:
            volume += width * _hv([q[1:] for q in pts[: i + 1]])
    return volume


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Exact hypervolume of ``points`` normalised by ``reference`` (each axis divided by it)."""
    if any(r <= 0 for r in reference):
        raise ValueError("hypervolume reference must be positive in every axis")
    normalised = []
    for p in points:
        q = tuple(max(0.0, float(x) / float(r)) for x, r in zip(p, reference, strict=True))
        if all(x < 1.0 for x in q):
            normalised.append(q)
    return _hv(normalised)
