"""Training throughput of our loop (with pruning) vs plain ``model.fit``; predicted peak vs the
measured TFLM arena for random exported architectures.

Usage: ``.venv/bin/python bench/train.py [--archs 50] [--epochs 8] [--mnist-limit 4000]``.

Part 1, throughput (samples/s, median over epochs 2..E, so the first epoch's tracing is left
out): ``trainer.train_candidate`` (masks as in-graph constraints, pruning callback, tf.data
pipeline) against plain ``model.fit`` on numpy arrays of the same model (same builder, same
optimiser, loss, metric, batch size), in the same process, on digits and on MNIST (a subset).
Augmentation is OFF for both (what is compared is the loop's own overhead); our loop with
augmentation ON is printed beside it for information. The target is >= 0.9x of plain fit.
Each measurement runs twice, interleaved, and the better median counts (the machine is shared).

Part 3, one search candidate on the full MNIST split (54,000 images, quick profile): the
training pipeline's build and first batch, ours against the NumPy-capture pipeline used before
2026-12-02 (baseline, same process, interleaved, median of 3), then the whole evaluation of the
reference networks lenet-4/8/16 by stage (epochs, materialise, convert, TFLM measurement).

Part 2, memory: for random architectures (28x28x1, 10 classes, untrained random weights),
the predicted peak (optimal order on the architecture's op graph) against the smallest arena
with which TFLM runs the int8 export written in that order: min / median / max of
arena / predicted and of the overhead bytes (arena - predicted), with the overhead estimate of
``export.overhead`` for comparison.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from search_engine.space import (  # noqa: E402
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
    SearchSpace,
)

REPEATS = 5
BENCH_ARCH = Architecture(
    blocks=(
        ConvBlock((ConvLayer("full", 3, 16, 1, False, True, True),), False),
        ConvBlock((ConvLayer("1x1", 1, 16, 1, False, False, True),
                   ConvLayer("full", 3, 16, 1, False, False, True)), True),
        ConvBlock((ConvLayer("depthwise", 3, None, 2, False, True, True),
                   ConvLayer("1x1", 1, 32, 1, False, True, True)), False),
    ),
    pooling=Pooling("max", 2),
    dense=(DenseLayer(64),),
)


def Timer():  # noqa: N802 - a Keras callback class made lazily (keras imported late)
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.wall, self.cpu = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.wall.append(time.perf_counter() - self.t)
            self.cpu.append(time.process_time() - self.c)

    return EpochTimer()


def rates(samples: int, wall: list[float], cpu: list[float]) -> tuple[float, float]:
    """(samples per wall-clock second, samples per CPU second), medians over epochs 2..E."""
    return samples / statistics.median(wall[1:]), samples / statistics.median(cpu[1:])


def plain_fit_throughput(arch, dataset, profile, epochs: int, seed: int) -> tuple:

    from search_engine.train.keras_builder import build_keras_model
    from search_engine.train.trainer import compile_model, preprocess, set_seeds, steps_per_epoch

    set_seeds(seed)
    model = build_keras_model(arch, dataset.input_shape, dataset.num_classes,
                              dropout=profile.dropout)
    compile_model(model, profile, steps_per_epoch(len(dataset.y_train), profile.batch_size))
    x, _, _ = preprocess(dataset, profile)
    timer = Timer()

    model.fit(x, dataset.y_train, batch_size=profile.batch_size, epochs=epochs, shuffle=True,
              verbose=0, callbacks=[timer])
    return rates(len(dataset.y_train), timer.wall, timer.cpu)


def pipeline_fit_throughput(arch, dataset, profile, epochs: int, seed: int) -> tuple:
    """Plain ``fit`` (no masks, no pruning callback) on our tf.data pipeline."""

    from search_engine.train.keras_builder import build_keras_model
    from search_engine.train.trainer import compile_model, make_train_data, set_seeds

    set_seeds(seed)
    model = build_keras_model(arch, dataset.input_shape, dataset.num_classes,
                              dropout=profile.dropout)
    data, steps = make_train_data(dataset, profile, seed=seed, epochs=epochs, augment=False)
    compile_model(model, profile, steps)
    timer = Timer()

    model.fit(data, epochs=epochs, steps_per_epoch=steps, verbose=0, shuffle=False,
              callbacks=[timer])
    return rates(len(dataset.y_train), timer.wall, timer.cpu)


def our_throughput(arch, dataset, profile, epochs: int, seed: int, augment: bool) -> tuple:
    from search_engine.train.trainer import train_candidate

    result = train_candidate(arch, 0.5, dataset, profile, seed=seed, epochs=epochs,
                             augment=augment)
    h = result.history
    return rates(len(dataset.y_train), [e["seconds"] for e in h], [e["cpu_seconds"] for e in h])


def throughput(name: str, limit: int | None, epochs: int) -> dict:
    import keras

    from search_engine.train.datasets import load_dataset
    from search_engine.train.profiles import get_profile

    dataset = load_dataset(name, limit=limit)
    # pruning inside the measured epochs: from epoch 1 to E-2
    profile = get_profile(name, "paper")
    profile = replace(profile, pruning=replace(profile.pruning, start_epoch=1,
                                               end_epoch=max(2, epochs - 2)))
    runs: dict[str, list[tuple[float, float]]] = {"plain": [], "piped": [], "ours": []}
    for rep in range(REPEATS):
        runs["plain"].append(plain_fit_throughput(BENCH_ARCH, dataset, profile, epochs, rep))
        keras.backend.clear_session()
        runs["ours"].append(our_throughput(BENCH_ARCH, dataset, profile, epochs, rep, False))
        keras.backend.clear_session()
        runs["piped"].append(pipeline_fit_throughput(BENCH_ARCH, dataset, profile, epochs, rep))
        keras.backend.clear_session()
    aug = our_throughput(BENCH_ARCH, dataset, profile, epochs, 0, augment=True)
    keras.backend.clear_session()
    row = {"dataset": name, "train_samples": len(dataset.y_train),
           "batch_size": profile.batch_size, "ours_augmented": aug}
    for k in (0, 1):  # wall, cpu
        unit = ("wall", "cpu")[k]
        for key, values in runs.items():
            row[f"{key}_{unit}"] = statistics.median(v[k] for v in values)
        row[f"ratio_{unit}"] = statistics.median(
            o[k] / p[k] for o, p in zip(runs["ours"], runs["plain"], strict=True))
        row[f"pruning_ratio_{unit}"] = statistics.median(
            o[k] / p[k] for o, p in zip(runs["ours"], runs["piped"], strict=True))
    return row


def memory(n_archs: int, seed: int) -> list[dict]:
    import keras

    from search_engine.export.convert import convert_to_int8_tflite
    from search_engine.export.overhead import estimate_tflm_overhead
    from search_engine.export.tflite_graph import optimise_operator_order
    from search_engine.export.tflm import measure_arena
    from search_engine.graph import build_op_graph
    from search_engine.resources import optimal_order
    from search_engine.train.keras_builder import build_keras_model

    shape, classes = (28, 28, 1), 10
    space = SearchSpace(shape, classes)
    rng = random.Random(seed)
    x = np.random.default_rng(seed).uniform(size=(16, *shape)).astype(np.float32)
    rows = []
    while len(rows) < n_archs:
        arch = space.sample(rng)
        graph = build_op_graph(arch, shape, classes)
        if sum(op.macs for op in graph.ops) > 20_000_000:  # keep the bench short
            continue
        predicted = optimal_order(graph).peak_bytes
        keras.utils.set_random_seed(len(rows))
        model = build_keras_model(arch, shape, classes)
        tflite = convert_to_int8_tflite(model, x, num_samples=16)
        tflite, _, _ = optimise_operator_order(tflite)
        arena = measure_arena(tflite).arena_bytes
        rows.append({
            "ops": len(graph.ops),
            "predicted": predicted,
            "arena": arena,
            "ratio": arena / predicted,
            "overhead": arena - predicted,
            "estimate": estimate_tflm_overhead(graph, activation_peak=predicted),
        })
        keras.backend.clear_session(free_memory=len(rows) % 10 == 0)
        r = rows[-1]
        print(f"  {len(rows):3d}: {len(graph.ops):3d} ops, predicted {predicted:8d} B, "
              f"arena {arena:8d} B, ratio {arena / predicted:6.3f}, overhead {r['overhead']:6d} "
              f"B (estimate {r['estimate']:6d} B)", flush=True)
    return rows


def numpy_capture_pipeline(dataset, profile, seed: int, epochs: int):
    """The training pipeline as it was before 2026-12-02 (the baseline of part 3): the same
    batches, with the NumPy arrays captured by the map function (constants in its graph)."""
    import tensorflow as tf

    from search_engine.train.trainer import preprocess

    x, _, _ = preprocess(dataset, profile)
    y = np.asarray(dataset.y_train, dtype=np.int64)
    n, batch = len(y), int(profile.batch_size)
    perms = np.concatenate([np.random.default_rng([seed, e]).permutation(n)
                            for e in range(epochs)])
    return (tf.data.Dataset.from_tensor_slices(perms.reshape(-1, n))
            .flat_map(lambda p: tf.data.Dataset.from_tensor_slices(p).batch(batch))
            .map(lambda idx: (tf.gather(x, idx), tf.gather(y, idx)))
            .prefetch(tf.data.AUTOTUNE))


def first_batch_seconds(build) -> tuple[float, float]:
    """(seconds to build a pipeline, seconds from then to its first batch)."""
    t0 = time.perf_counter()
    data = build()
    t1 = time.perf_counter()
    next(iter(data))
    return t1 - t0, time.perf_counter() - t1


def stage_seconds(begin: float, events: list[tuple[float, dict]]) -> dict[str, float]:
    """Seconds per stage from the pipeline's progress events: a ``train`` event ends an epoch
    (and carries its seconds; what came before epoch 1 is setup), the export stages'
    events (materialise, convert, measure, evaluate, write, done) each start one."""
    stages: dict[str, float] = {}
    last, current = begin, "setup"
    for at, event in events:
        stage = event.get("stage")
        if stage == "train":
            epoch_seconds = float(event["seconds"])
            stages[current] = stages.get(current, 0.0) + (at - last) - epoch_seconds
            stages[f"epoch {event['epoch']}"] = epoch_seconds
            last, current = at, "final accuracy"
        elif stage in ("materialise", "convert", "measure", "evaluate", "write", "done"):
            stages[current] = stages.get(current, 0.0) + at - last
            last, current = at, str(stage)
    return stages


def candidate_profile(names: tuple[str, ...], seed: int) -> list[dict]:
    """Where one search candidate's time goes on the full MNIST split (54,000 training images,
    the quick profile: 3 epochs, batch 64): pipeline build and first batch (ours vs the NumPy
    capture baseline, same process, interleaved), then for each reference network the whole
    evaluation by stage (``train_and_export``: training epochs, rung-free validation and test
    accuracy, materialise, int8 conversion, TFLM arena bisection and evaluation)."""
    import tempfile

    from search_engine.space.references import reference_family
    from search_engine.train.datasets import load_dataset
    from search_engine.train.pipeline import train_and_export
    from search_engine.train.profiles import get_profile
    from search_engine.train.trainer import make_train_data

    dataset = load_dataset("mnist", seed=seed)
    profile = get_profile("mnist", "quick")
    ours, baseline = [], []
    for _ in range(3):
        ours.append(first_batch_seconds(
            lambda: make_train_data(dataset, profile, seed=seed, epochs=profile.epochs)[0]))
        baseline.append(first_batch_seconds(
            lambda: numpy_capture_pipeline(dataset, profile, seed, profile.epochs)))
    rows = [{"what": "pipeline", "ours": [sum(t) for t in ours],
             "baseline": [sum(t) for t in baseline]}]
    family = dict(reference_family(tuple(dataset.input_shape)))
    for name in names:
        events: list[tuple[float, dict]] = []
        with tempfile.TemporaryDirectory() as out:
            begin = time.perf_counter()
            report = train_and_export(
                family[name], 0.0, dataset, profile, seed=seed, out_dir=out,
                progress=lambda e, events=events: events.append((time.perf_counter(), dict(e))))
        rows.append({"what": name, "total": time.perf_counter() - begin,
                     "stages": stage_seconds(begin, events), "macs": report["macs"],
                     "val_accuracy": report["val_accuracy"]})
    return rows


def summary(values: list[float]) -> str:
    return (f"min {min(values):10.3f}  median {statistics.median(values):10.3f}  "
            f"max {max(values):10.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--mnist-limit", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", type=int, nargs="+", choices=(1, 2, 3), default=[1, 2, 3],
                        help="1 throughput, 2 memory, 3 one candidate's time on full MNIST")
    args = parser.parse_args()
    start = time.perf_counter()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # retracing notes: one model after another, by design

    if 1 in args.parts:
        print("== training throughput, augmentation off for both (samples/s, median of epochs "
              f"2..{args.epochs}) ==")
        rows = [throughput("digits", None, args.epochs)]
        try:
            rows.append(throughput("mnist", args.mnist_limit, args.epochs))
        except Exception as exc:  # the MNIST files may be missing on this machine
            print(f"mnist skipped: {exc}")
        for unit, what in (("wall", "samples per wall-clock second"),
                           ("cpu", "samples per CPU second of this process, all threads")):
            print(f"-- {what} (median of {REPEATS} interleaved runs) --")
            print(f"{'data set':10s} {'train':>6s} {'batch':>5s} {'plain fit':>10s} {'ours':>10s} "
                  f"{'ratio':>6s}   {'fit on our tf.data':>18s} {'ratio':>6s}")
            for r in rows:
                print(f"{r['dataset']:10s} {r['train_samples']:6d} {r['batch_size']:5d} "
                      f"{r['plain_' + unit]:10.0f} {r['ours_' + unit]:10.0f} "
                      f"{r['ratio_' + unit]:6.2f}x   {r['piped_' + unit]:18.0f} "
                      f"{r['pruning_ratio_' + unit]:6.2f}x")
        print("ratio: ours / plain fit on numpy arrays; second ratio: ours / fit without masks on "
              "the same tf.data pipeline (the cost of pruning alone)")
        for r in rows:
            print(f"{r['dataset']}: ours with augmentation on: "
                  f"{r['ours_augmented'][0]:.0f} samples/s wall, "
                  f"{r['ours_augmented'][1]:.0f} per CPU second")
    if 2 in args.parts:
        print(f"\n== predicted peak vs measured TFLM arena, {args.archs} random architectures "
              "(28x28x1, untrained) ==")
        mem = memory(args.archs, args.seed)
        print(f"arena / predicted peak : {summary([r['ratio'] for r in mem])}")
        print(f"overhead bytes         : {summary([float(r['overhead']) for r in mem])}")
        print(f"overhead estimate - measured overhead (bytes): "
              f"{summary([float(r['estimate'] - r['overhead']) for r in mem])}")
        under = [r for r in mem if r["estimate"] < r["overhead"]]
        print("architectures whose overhead the estimate falls short of: "
              f"{len(under)} of {len(mem)}")
    if 3 in args.parts:
        print("\n== one search candidate on the full MNIST split, quick profile (seconds) ==")
        try:
            rows = candidate_profile(("lenet-4", "lenet-8", "lenet-16"), args.seed)
        except Exception as exc:  # the MNIST files may be missing on this machine
            print(f"skipped: {exc}")
            rows = []
        for r in rows:
            if r["what"] == "pipeline":
                o, b = statistics.median(r["ours"]), statistics.median(r["baseline"])
                print(f"training pipeline, build + first batch (median of 3): ours {o:.2f} s, "
                      f"NumPy capture (before) {b:.2f} s: {b / o:.0f}x")
                continue
            parts = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items() if v >= 0.05)
            print(f"{r['what']} ({r['macs']} MACs, val {r['val_accuracy']:.3f}): total "
                  f"{r['total']:.1f} s = {parts}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
