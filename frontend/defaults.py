"""Defaults of the new-search form: chosen so that a first search finishes in a few minutes on a
laptop with the quick training profile, with limits that admit plenty of models.

Digits: 60 candidates take about 4-5 minutes with ``make run``'s two worker processes on 2
cores (the reference networks first, children stopped early at rungs; ``bench/search_cost.py``
screens about 960 digits candidates an hour with 2 workers), and the reference family alone
reaches 97-98% validation accuracy within these limits. MNIST and the other image sets start
with the smallest reference network, so the first candidates appear within minutes.

The TFLite Micro arena needs several KB beyond the tensors themselves (docs/export.md), so SRAM
limits below about 8 KiB admit few models; the defaults leave room.
"""

from __future__ import annotations

from typing import Any

from nasweb.searches.presets import PLAUSIBLE_MAX_FLASH_BYTES, PLAUSIBLE_MAX_SRAM_BYTES

KIB = 1024

#: per data set: SRAM and Flash limits (bytes), budget (candidates), population, sample size
DATASET_DEFAULTS: dict[str, dict[str, int]] = {
    "digits": {"sram_bytes": 32 * KIB, "flash_bytes": 64 * KIB, "rounds": 60,
               "population": 16, "sample": 4},
    "mnist": {"sram_bytes": 64 * KIB, "flash_bytes": 128 * KIB, "rounds": 30,
              "population": 10, "sample": 3},
    "fashion-mnist": {"sram_bytes": 64 * KIB, "flash_bytes": 128 * KIB, "rounds": 30,
                      "population": 10, "sample": 3},
    "cifar10": {"sram_bytes": 128 * KIB, "flash_bytes": 256 * KIB, "rounds": 30,
                "population": 10, "sample": 3},
}
FALLBACK = {"sram_bytes": 64 * KIB, "flash_bytes": 256 * KIB, "rounds": 30, "population": 10,
            "sample": 3}
#: limits below these are allowed but warned about in the form
LOW_SRAM_WARNING_BYTES = 8 * KIB
LOW_FLASH_WARNING_BYTES = 8 * KIB
#: ... and above these (more than any MCU has; the API warns about the same)
HIGH_SRAM_WARNING_BYTES = PLAUSIBLE_MAX_SRAM_BYTES
HIGH_FLASH_WARNING_BYTES = PLAUSIBLE_MAX_FLASH_BYTES


def form_defaults(dataset: str) -> dict[str, Any]:
    """The initial values of the form for a project on ``dataset``."""
    values: dict[str, Any] = dict(DATASET_DEFAULTS.get(dataset, FALLBACK))
    values.update(dataset=dataset, profile="quick", in_flight_target=2, seed=0,
                  low_sram_warning_bytes=LOW_SRAM_WARNING_BYTES,
                  low_flash_warning_bytes=LOW_FLASH_WARNING_BYTES,
                  high_sram_warning_bytes=HIGH_SRAM_WARNING_BYTES,
                  high_flash_warning_bytes=HIGH_FLASH_WARNING_BYTES,
                  all=DATASET_DEFAULTS, fallback=FALLBACK)
    return values
