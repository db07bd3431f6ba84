"""Multi-fidelity evaluation: asynchronous successive halving (ASHA) inside aging evolution.

A child is trained with the search's profile, but at a few *rungs* (fractions of the profile's
training steps, 1/9 and 1/3 by default; a rung may fall inside an epoch, as on MNIST's 3-epoch
quick profile, whose first rung is a third of the first epoch) its validation accuracy is
measured. It stops there
when both hold:

* its rung accuracy is below the top ``1/eta`` of the rung accuracies recorded so far at that
  rung (ASHA's promotion rule, Li et al. 2020, applied asynchronously: the threshold is fixed
  when the child starts, from every candidate that reached the rung by then), and
* the records that rule compares it with are *no more expensive* than the child: only
  candidates whose predicted SRAM, Flash and MACs are all at most the child's count. A small
  child is never stopped for being less accurate than a large one, since it may still earn a
  place on the Pareto front by being small.

Fewer than ``eta`` comparable records at a rung: no threshold, the child goes on. A stopped
child is recorded with the accuracy it had (``val_accuracy`` = its last rung's), is not
exported, is infeasible and stays off the Pareto front, which is made of fully trained
candidates only; it joins the population like any child, so evolution learns from it.

This module is pure bookkeeping (no TensorFlow): the engine computes a child's plan with
:func:`stopping_plan` when it starts, the driver hands the plan to the evaluator
(``EvaluationContext.options["fidelity"]``), and the trainer applies it
(``train.trainer.train_candidate(stopping=...)``, whose ``rung_steps`` turns the fractions
into training steps and keys them by epochs, ``"0.33"``, ``"1"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Metrics a fidelity-aware evaluator reports.
RUNG_METRIC = "rung_accuracy"  # {"<epochs>": validation accuracy at that rung}
STOPPED_METRIC = "stopped_early"  # True when a rung stopped the child
EPOCHS_METRIC = "epochs_trained"
#: Predicted resources that decide which records a child is compared with.
COST_KEYS = ("estimated_sram_bytes", "estimated_flash_bytes", "macs")


def stopped_early(metrics: Mapping[str, Any]) -> bool:
    return bool(metrics.get(STOPPED_METRIC, False))


def _cost(precheck: Mapping[str, Any]) -> tuple[float, ...] | None:
    try:
        return tuple(float(precheck[k]) for k in COST_KEYS)
    except (KeyError, TypeError, ValueError):
        return None


def rung_threshold(accuracies: Sequence[float], eta: int) -> float | None:
    """The accuracy a child needs to be in the top ``1/eta`` of ``accuracies`` (``None`` with
    fewer than ``eta`` of them)."""
    if len(accuracies) < eta:
        return None
    ranked = sorted(accuracies, reverse=True)
    return ranked[max(1, len(ranked) // eta) - 1]


def stopping_plan(precheck: Mapping[str, Any],
                  records: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]],
                  eta: int, fractions: Sequence[float]) -> dict[str, Any]:
    """The plan for a child with pre-check estimates ``precheck``, given the ``(precheck,
    metrics)`` of the candidates evaluated so far: ``{"fractions": [...], "eta": eta,
    "thresholds": {"<epochs>": accuracy}}`` (rungs without a threshold are left out)."""
    plan: dict[str, Any] = {"fractions": [float(f) for f in fractions], "eta": int(eta),
                            "thresholds": {}}
    mine = _cost(precheck)
    if mine is None:
        return plan
    by_rung: dict[str, list[float]] = {}
    for their_precheck, metrics in records:
        theirs = _cost(their_precheck)
        if theirs is None or any(t > m for t, m in zip(theirs, mine, strict=True)):
            continue
        for epoch, acc in (metrics.get(RUNG_METRIC) or {}).items():
            if isinstance(acc, int | float):
                by_rung.setdefault(str(epoch), []).append(float(acc))
    for epoch, accs in sorted(by_rung.items(), key=lambda kv: float(kv[0])):
        threshold = rung_threshold(accs, eta)
        if threshold is not None:
            plan["thresholds"][epoch] = threshold
    return plan
