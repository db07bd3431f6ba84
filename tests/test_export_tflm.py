"""int8 conversion and the TFLM interpreter: I/O types, accuracy vs Keras, arena search."""

from __future__ import annotations

import numpy as np
import pytest

from search_engine.export.convert import ConversionError, convert_to_int8_tflite
from search_engine.export.demo_models import chain_model, digits_data, train_briefly
from search_engine.export.tflite_graph import read_model_io
from search_engine.export.tflm import (
    ArenaSearchError,
    TflmError,
    TflmRunner,
    evaluate_int8,
    find_min_arena,
    measure_arena,
    probe_arena,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained():
    x_train, y_train, x_test, y_test = digits_data()
    model = train_briefly(chain_model(depth=2, width=8), x_train, y_train, epochs=3)
    tflite = convert_to_int8_tflite(model, x_train, num_samples=100)
    float_scores = model.predict(x_test, verbose=0)
    return {"model": model, "tflite": tflite, "x": x_test, "y": y_test, "float": float_scores}


def test_conversion_gives_int8_input_and_output_with_batch_one(trained):
    io = read_model_io(trained["tflite"])
    assert len(io.inputs) == len(io.outputs) == 1
    inp, out = io.inputs[0], io.outputs[0]
    assert (inp.dtype, out.dtype) == ("int8", "int8")
    assert inp.shape == (1, 8, 8, 1) and out.shape == (1, 10)
    assert inp.scale > 0 and out.scale > 0
    assert -128 <= inp.zero_point <= 127 and -128 <= out.zero_point <= 127


def test_tflm_int8_accuracy_and_agreement_with_keras(trained):
    arena = find_min_arena(trained["tflite"])
    ev = evaluate_int8(
        trained["tflite"], trained["x"], trained["y"], arena_size=arena, reference=trained["float"]
    )
    float_acc = float(np.mean(trained["float"].argmax(1) == trained["y"]))
    assert ev.n_samples == len(trained["x"]) == len(ev.predictions)
    assert ev.outputs.shape == (len(trained["x"]), 10)
    assert float_acc > 0.8
    assert ev.agreement is not None and ev.agreement > 0.9
    assert abs(ev.accuracy - float_acc) < 0.05
    assert ev.seconds_per_inference < 0.01
    # dequantised int8 scores track the float logits
    assert np.corrcoef(ev.outputs.ravel(), trained["float"].ravel())[0, 1] > 0.95


def test_arena_search_answer_works_and_16_less_fails(trained):
    m = measure_arena(trained["tflite"])
    assert m.arena_bytes % 16 == 0
    assert m.probes <= 10  # the recorded-allocation hint makes the search short
    assert probe_arena(trained["tflite"], m.arena_bytes).ok
    assert not probe_arena(trained["tflite"], m.arena_bytes - 16).ok
    assert m.head_bytes + m.tail_bytes <= m.arena_bytes
    assert find_min_arena(trained["tflite"], upper=m.arena_bytes * 3) == m.arena_bytes


def test_success_is_monotone_in_arena_size(trained):
    arena = find_min_arena(trained["tflite"])
    with TflmRunner(trained["tflite"]) as runner:
        sizes = list(range(arena - 16 * 40, arena + 16 * 10, 16))
        ok = [runner.probe(n).ok for n in sizes]
    assert ok == [n >= arena for n in sizes]


def test_far_too_small_arena_does_not_crash_the_caller(trained):
    for size in (0, 16, 256):
        r = probe_arena(trained["tflite"], size)
        assert not r.ok and r.error
    with pytest.raises(TflmError):
        evaluate_int8(trained["tflite"], trained["x"][:4], trained["y"][:4], arena_size=64)


def test_runner_restarts_after_a_crash(trained):
    arena = find_min_arena(trained["tflite"])
    with TflmRunner(trained["tflite"]) as runner:
        assert runner.probe(arena).ok
        runner.probe(16)  # segfaults TFLM (reported as a failed probe)
        assert runner.probe(arena).ok
        assert runner.crashes >= 1


def test_upper_bound_too_small_is_reported(trained):
    with pytest.raises(ArenaSearchError, match="upper bound"):
        find_min_arena(trained["tflite"], upper=512)


def test_bad_inputs_are_rejected_clearly(trained):
    with pytest.raises(ValueError, match="do not fit"):
        evaluate_int8(trained["tflite"], np.zeros((3, 5, 5)), np.zeros(3), arena_size=10**5)
    with pytest.raises(ValueError, match="entries"):
        evaluate_int8(trained["tflite"], trained["x"][:3], np.zeros(4), arena_size=10**5)
    with pytest.raises(ConversionError, match="expects"):
        convert_to_int8_tflite(trained["model"], np.zeros((4, 7, 7, 1)))
    with pytest.raises(ConversionError, match="NaN"):
        convert_to_int8_tflite(trained["model"], np.full((4, 8, 8, 1), np.nan))
    with pytest.raises(ConversionError, match="at least one"):
        convert_to_int8_tflite(trained["model"], np.zeros((0, 8, 8, 1)))


def test_workers_split_the_samples_without_changing_results(trained):
    arena = find_min_arena(trained["tflite"])
    x, y = trained["x"][:101], trained["y"][:101]
    one = evaluate_int8(trained["tflite"], x, y, arena_size=arena)
    three = evaluate_int8(trained["tflite"], x, y, arena_size=arena, workers=3)
    assert np.array_equal(one.outputs, three.outputs)
    assert one.accuracy == three.accuracy
    with pytest.raises(ValueError, match="workers"):
        evaluate_int8(trained["tflite"], x, y, arena_size=arena, workers=0)
