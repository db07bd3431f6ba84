"""Objectives, soft bounds, hard limits and the paper's random scalarisation (Eq. 1).

μNAS minimises four objectives: validation error, peak memory, model size and MACs. A round's
goal is ``L(a) = max_i lambda_i * f_i(a)`` with ``1 / lambda_i ~ Uniform[0, b_i]`` resampled every
round, ``b_i`` the user's soft bound for objective ``i``. Writing ``1 / lambda_i = b_i * u_i`` with
``u_i ~ U(0, 1)`` gives the equivalent ``L(a) = max_i f_i(a) / (b_i * u_i)``. Objectives without a
bound take no part.

Soft bounds steer the search; hard limits (the MCU's SRAM and Flash, optionally MACs) decide
what is deployable. By default the soft bounds of memory, size and MACs are the hard limits, and
the error's is the user's target or, without one, ``NO_TARGET_ERROR_BOUND`` (its whole range):
error always takes part, since a search that ignored accuracy would drift to the smallest,
useless networks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ConfigError

#: Objective names. ``sram_bytes`` and ``flash_bytes`` are what the device needs: the measured
#: TFLM arena and the ``.tflite`` size once a candidate is exported (see ``objective_values``).
OBJECTIVES: tuple[str, ...] = ("error", "sram_bytes", "flash_bytes", "macs")

#: The error's soft bound when the user gives no target: the error's whole range.
NO_TARGET_ERROR_BOUND = 1.0


@dataclass(frozen=True)
class SoftBounds:
    """The user's preferred upper bound per objective; ``None`` leaves it out of the goal."""

    error: float | None = None
    sram_bytes: float | None = None
    flash_bytes: float | None = None
    macs: float | None = None

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            if value is not None and not (isinstance(value, int | float) and value > 0
                                          and math.isfinite(value)):
                raise ConfigError(f"bounds.{name}", f"must be a positive number (got {value!r})",
                                  label=f"soft bound {name}")

    def as_dict(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in OBJECTIVES}

    def active(self) -> dict[str, float]:
        """The objectives that take part, with their bounds."""
        return {k: float(v) for k, v in self.as_dict().items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SoftBounds:
        return cls(**{k: obj.get(k) for k in OBJECTIVES})


@dataclass(frozen=True)
class HardLimits:
    """What the target device has: SRAM for the arena, Flash for the model, optional MACs."""

    sram_bytes: int
    flash_bytes: int
    macs: int | None = None

    def __post_init__(self) -> None:
        for name in ("sram_bytes", "flash_bytes", "macs"):
            value = getattr(self, name)
            if value is None and name == "macs":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"limits.{name}", f"must be a positive integer (got {value!r})",
                                  label=f"hard limit {name}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> HardLimits:
        return cls(sram_bytes=obj["sram_bytes"], flash_bytes=obj["flash_bytes"],
                   macs=obj.get("macs"))

    def default_soft_bounds(self, error: float | None = None) -> SoftBounds:
        """The hard limits as soft bounds, plus the error target (``NO_TARGET_ERROR_BOUND``
        when the user gave none)."""
        return SoftBounds(error=NO_TARGET_ERROR_BOUND if error is None else error,
                          sram_bytes=self.sram_bytes,
                          flash_bytes=self.flash_bytes, macs=self.macs)

    def admits(self, values: Mapping[str, float]) -> bool:
        """Whether objective values (see ``objective_values``) fit every hard limit."""
        return (values["sram_bytes"] <= self.sram_bytes
                and values["flash_bytes"] <= self.flash_bytes
                and (self.macs is None or values["macs"] <= self.macs))


def sample_coefficients(bounds: SoftBounds, rng: random.Random) -> dict[str, float]:
    """One round's coefficients ``lambda_i = 1 / (b_i * u_i)``, ``u_i ~ U(0, 1]``."""
    coefficients = {}
    for name, bound in bounds.active().items():
        u = 1.0 - rng.random()  # in (0, 1]: 1/lambda may not be exactly 0
        coefficients[name] = 1.0 / (bound * u)
    return coefficients


def scalarise(values: Mapping[str, float], coefficients: Mapping[str, float]) -> float:
    """``max_i lambda_i * f_i`` over the objectives that have a coefficient."""
    if not coefficients:
        raise ValueError("no objective has a bound: give at least one soft bound")
    return max(coefficients[name] * float(values[name]) for name in coefficients)


def objective_values(metrics: Mapping[str, float]) -> dict[str, float]:
    """Objective values from a training report's metrics.

    SRAM is the measured TFLM arena (``tflm_arena_bytes``) and Flash the ``.tflite`` size
    (``tflite_bytes``); where a candidate was not exported the analytic figures stand in
    (``peak_memory_bytes`` + ``tflm_overhead_bytes``, ``model_size_bytes``).
    """
    sram = metrics.get("tflm_arena_bytes")
    if sram is None:
        sram = metrics["peak_memory_bytes"] + metrics.get("tflm_overhead_bytes", 0)
    flash = metrics.get("tflite_bytes")
    if flash is None:
        flash = metrics["model_size_bytes"]
    return {"error": 1.0 - float(metrics["val_accuracy"]), "sram_bytes": float(sram),
            "flash_bytes": float(flash), "macs": float(metrics["macs"])}
