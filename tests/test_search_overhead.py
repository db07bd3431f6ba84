"""The pre-training check's overhead model: the Flash prior's terms and the robust correction."""

from __future__ import annotations

from search_engine.graph import build_op_graph
from search_engine.search.overhead import (
    FLASH_BASE,
    FLASH_PER_CHANNEL,
    FLASH_PER_CONV,
    FLASH_PER_DENSE,
    FLASH_PER_OTHER,
    FLASH_PER_UNIT,
    correction,
    estimate_overhead,
    prior_flash,
)
from search_engine.space import Architecture, ConvBlock, ConvLayer, DenseLayer


def test_flash_prior_counts_per_channel_parameters_of_dense_layers_too():
    # conv 3x3 with 6 channels, then dense 40 and the 10-class classifier
    arch = Architecture(blocks=(ConvBlock((ConvLayer("full", 3, 6, 1, False, False, True),),
                                          False),),
                        pooling=None, dense=(DenseLayer(40),))
    graph = build_op_graph(arch, (8, 8, 1), 10)
    kinds = [op.kind for op in graph.ops]
    other = len(kinds) - kinds.count("conv2d") - kinds.count("dense")
    assert kinds.count("conv2d") == 1 and kinds.count("dense") == 2
    assert prior_flash(graph) == (FLASH_BASE + FLASH_PER_CONV + 2 * FLASH_PER_DENSE
                                  + other * FLASH_PER_OTHER + 6 * FLASH_PER_CHANNEL
                                  + (40 + 10) * FLASH_PER_UNIT)
    wider = Architecture(blocks=arch.blocks, pooling=None, dense=(DenseLayer(140),))
    assert prior_flash(build_op_graph(wider, (8, 8, 1), 10)) - prior_flash(graph) == \
        100 * FLASH_PER_UNIT


def test_correction_is_a_low_quantile_robust_to_one_odd_export():
    assert correction([]) == 0
    assert correction([300, -50, 120]) == -50  # few exports: the smallest
    residuals = [-5000] + list(range(0, 1900, 100))  # one outlier among 20
    assert correction(residuals) == 100  # the 10th percentile (index 2 of 20), not the outlier
    assert correction(list(range(100))) == 10


def test_estimate_applies_the_correction_learnt_from_measured_exports():
    arch = Architecture(blocks=(ConvBlock((ConvLayer("1x1", 1, 2, 1, False, False, True),),
                                          False),),
                        pooling=None, dense=(DenseLayer(20),))
    graph = build_op_graph(arch, (8, 8, 1), 10)
    prior = estimate_overhead(graph, 64)
    assert prior.flash_bytes == prior_flash(graph) and prior.measured_exports == 0
    # one measured export whose .tflite was 300 B larger than analytic + prior
    estimates = {"peak_memory_bytes": 64, "model_size_bytes": 1000,
                 "prior_sram_bytes": prior.prior_sram_bytes, "prior_flash_bytes": 2000}
    metrics = {"tflm_arena_bytes": 64 + prior.prior_sram_bytes - 200, "tflite_bytes": 3300}
    learnt = estimate_overhead(graph, 64, [(estimates, metrics)])
    assert learnt.flash_bytes == prior_flash(graph) + 300
    assert learnt.sram_bytes == prior.sram_bytes - 200 and learnt.measured_exports == 1
