"""Run ``.tflite`` models in the real TFLM interpreter: smallest arena, int8 accuracy.

Every interpreter lives in a child process (``arena_probe.py`` beside this file, which imports
``tflite_micro`` and ``numpy`` only): TFLM segfaults on some too-small arenas (on
a 6 KB model every size from 0 to 448 bytes and from 2,880 to 2,912 bytes; other sizes fail
cleanly), and a crash must not take the caller (a Celery worker, the test process) down. A
:class:`TflmRunner` keeps one child alive and feeds it requests over a pipe, so a probe costs
about a millisecond; a child that dies is counted as a failed probe and restarted (~0.1 s).

Arena search (:func:`measure_arena`, :func:`find_min_arena`): the result is the smallest
multiple of 16 bytes with which the interpreter allocates (``AllocateTensors``) and runs one
inference on zero inputs. 16 bytes is TFLM's buffer alignment; the 1-byte-exact minimum is at
most 15 bytes lower and of no practical use (arenas are declared ``alignas(16)``). Success is
monotone in the arena size (swept every 16 bytes on the test models: fail or crash below the
minimum, success from it upwards), which is what makes the binary search valid; the search
still verifies its answer (answer works, answer - 16 failed). To keep it cheap, the first
probe uses a generous arena and asks TFLM's RecordingMicroAllocator for the bytes it used
("Arena allocation total"). That figure, rounded up to 16, is the answer whenever the
activation plan is larger than the temporary memory AllocateTensors needs while planning
(25 of 28 random architectures measured): the search is then 4 probes (~0.15 s). Otherwise
(tiny activations) the hint fails and a binary search follows (~17 probes, ~0.2 s).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from search_engine.export.tflite_graph import op_graph_from_tflite_bytes, read_model_io

ARENA_ALIGNMENT = 16
_PROBE_SCRIPT = Path(__file__).with_name("arena_probe.py")
_MAX_ARENA = 1 << 30


class TflmError(RuntimeError):
    """The TFLM interpreter could not run the model (or its process died)."""


class ArenaSearchError(TflmError):
    """No arena up to the bound lets the model run."""


@dataclass(frozen=True)
class ProbeResult:
    """One try of one arena size. ``crashed``: the child process died (counts as failure)."""

    arena: int
    ok: bool
    error: str = ""
    crashed: bool = False
    total: int | None = None
    head: int | None = None
    tail: int | None = None


def _round_up(n: int) -> int:
    return -(-int(n) // ARENA_ALIGNMENT) * ARENA_ALIGNMENT


def _pipes(proc: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    """The child's stdin and stdout (both opened as pipes by ``TflmRunner._start``)."""
    return cast(IO[str], proc.stdin), cast(IO[str], proc.stdout)


class TflmRunner:
    """A persistent TFLM child process for one model (use as a context manager)."""

    def __init__(self, tflite_bytes: bytes, *, timeout_s: float = 120.0) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="unas-tflm-")
        self._model_path = Path(self._dir.name) / "model.tflite"
        self._model_path.write_bytes(bytes(tflite_bytes))
        self._timeout_s = timeout_s
        self._proc: subprocess.Popen[str] | None = None
        self.probes = 0
        self.crashes = 0
        self.restarts = 0

    # -- process handling -------------------------------------------------------------------
    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(_PROBE_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        reply = self._request({"cmd": "load", "path": str(self._model_path)})
        if reply is None or not reply.get("ok"):
            detail = "process died" if reply is None else reply.get("error")
            self._stop()
            raise TflmError(f"TFLM child could not load the model: {detail}")

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stdin, stdout = _pipes(proc)
        try:
            if proc.poll() is None:
                stdin.write('{"cmd": "quit"}\n')
                stdin.flush()
                proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            proc.kill()
            proc.wait()
        for stream in (stdin, stdout):
            try:
                stream.close()
            except OSError:
                pass

    def _request(
        self, req: dict[str, Any], timeout_s: float | None = -1.0
    ) -> dict[str, Any] | None:
        """Send one request; the reply, or None if the child died while handling it.

        ``timeout_s``: -1 = the runner's default, None = wait as long as the child lives."""
        if timeout_s is not None and timeout_s < 0:
            timeout_s = self._timeout_s
        proc = self._proc
        assert proc is not None
        stdin, stdout = _pipes(proc)
        try:
            stdin.write(json.dumps(req) + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        ready, _, _ = select.select([stdout], [], [], timeout_s)
        if not ready:
            proc.kill()
            raise TflmError(f"TFLM child did not answer within {timeout_s:.0f} s")
        line = stdout.readline()
        if not line:
            return None
        reply: dict[str, Any] = json.loads(line)  # the probe answers one JSON object a line
        return reply

    def _call(self, req: dict[str, Any], timeout_s: float | None = -1.0) -> dict[str, Any] | None:
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:
                self._stop()
                self.restarts += 1
            self._start()
        reply = self._request(req, timeout_s)
        if reply is None:
            self.crashes += 1
            self._stop()
        return reply

    def close(self) -> None:
        self._stop()
        self._dir.cleanup()

    def __enter__(self) -> TflmRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------
    def probe(self, arena: int, *, record: bool = False) -> ProbeResult:
        """Allocate with ``arena`` bytes and invoke once (zero inputs)."""
        if arena < 0:
            raise ValueError(f"arena size must be >= 0, got {arena}")
        self.probes += 1
        reply = self._call({"cmd": "probe", "arena": int(arena), "record": record})
        if reply is None:
            return ProbeResult(arena, False, "TFLM process crashed", crashed=True)
        return ProbeResult(
            arena,
            bool(reply["ok"]),
            reply.get("error", ""),
            total=reply.get("total"),
            head=reply.get("head"),
            tail=reply.get("tail"),
        )

    def run(
        self, x: np.ndarray, *, arena: int, timeout_s: float | None = None
    ) -> tuple[np.ndarray, float]:
        """Raw outputs (N, *output shape) of output 0 for quantised inputs ``x`` (N, ...), and
        the seconds spent in set_input/invoke/get_output. No time limit by default (a large
        test split can take minutes); a crash still ends the wait."""
        x_path = Path(self._dir.name) / "x.npy"
        out_path = Path(self._dir.name) / "out.npy"
        np.save(x_path, np.ascontiguousarray(x))
        reply = self._call(
            {"cmd": "run", "arena": int(arena), "x_path": str(x_path), "out_path": str(out_path)},
            timeout_s,
        )
        if reply is None:
            raise TflmError(f"TFLM process crashed running the model with a {arena}-byte arena")
        if not reply["ok"]:
            raise TflmError(f"TFLM could not run the model: {reply.get('error')}")
        out = np.load(out_path)
        os.unlink(out_path)
        return out, float(reply["seconds"])


@dataclass(frozen=True)
class ArenaMeasurement:
    """The smallest working arena and how it was found.

    ``head``/``tail``: TFLM's own split at that arena (head = the memory planner's
    non-persistent area: activations plus kernel scratch; tail = persistent data: tensor and
    node structs, per-op data such as per-channel quantisation multipliers).
    """

    arena_bytes: int
    head_bytes: int | None
    tail_bytes: int | None
    probes: int
    crashes: int
    seconds: float


def _default_upper(tflite_bytes: bytes) -> int:
    activations = sum(op_graph_from_tflite_bytes(tflite_bytes).tensors.values())
    return _round_up(max(64 * 1024, 2 * activations + len(tflite_bytes) + 64 * 1024))


def measure_arena(tflite_bytes: bytes, *, upper: int | None = None) -> ArenaMeasurement:
    """Find the smallest working arena (a multiple of 16 bytes) by probing in a child process.

    ``upper``: an arena known (or required) to work; without it a generous size is derived
    from the model and doubled until the model runs (up to 1 GiB).
    """
    start = time.perf_counter()
    with TflmRunner(tflite_bytes) as runner:
        tried: dict[int, ProbeResult] = {}

        def probe(n: int, record: bool = False) -> ProbeResult:
            if n not in tried or (record and tried[n].total is None):
                tried[n] = runner.probe(n, record=record)
            return tried[n]

        hi = _round_up(upper) if upper is not None else _default_upper(tflite_bytes)
        first = probe(hi, record=True)
        while not first.ok:
            if upper is not None:
                raise ArenaSearchError(
                    f"the model does not run with the upper bound of {upper} bytes: "
                    f"{first.error}"
                )
            if hi >= _MAX_ARENA:
                raise ArenaSearchError(f"the model does not run with {hi} bytes: {first.error}")
            hi *= 2
            first = probe(hi, record=True)
        lo = 0  # treated as failing (TFLM needs some tail memory); probed below if it matters
        if first.total is not None:
            hint = _round_up(first.total)
            if lo < hint < hi:
                if probe(hint).ok:
                    hi = hint
                else:
                    lo = hint
        if hi - ARENA_ALIGNMENT > lo:
            if probe(hi - ARENA_ALIGNMENT).ok:
                hi -= ARENA_ALIGNMENT
            else:
                lo = hi - ARENA_ALIGNMENT
        while hi - lo > ARENA_ALIGNMENT:
            mid = lo + (hi - lo) // (2 * ARENA_ALIGNMENT) * ARENA_ALIGNMENT
            if probe(mid).ok:
                hi = mid
            else:
                lo = mid
        # Verify: the answer works, answer - 16 fails.
        if not probe(hi).ok or (hi >= ARENA_ALIGNMENT and probe(hi - ARENA_ALIGNMENT).ok):
            raise ArenaSearchError(f"arena search is inconsistent around {hi} bytes")
        final = probe(hi, record=True)
        return ArenaMeasurement(
            arena_bytes=hi,
            head_bytes=final.head,
            tail_bytes=final.tail,
            probes=runner.probes,
            crashes=runner.crashes,
            seconds=time.perf_counter() - start,
        )


def find_min_arena(tflite_bytes: bytes, *, upper: int | None = None) -> int:
    """The smallest arena (bytes, multiple of 16) with which TFLM allocates and runs the
    model once; see :func:`measure_arena`."""
    return measure_arena(tflite_bytes, upper=upper).arena_bytes


def probe_arena(tflite_bytes: bytes, arena: int) -> ProbeResult:
    """Try one arena size in a fresh child process (a crash is reported, never raised)."""
    with TflmRunner(tflite_bytes) as runner:
        return runner.probe(arena, record=True)


@dataclass(frozen=True, eq=False)
class TflmEvaluation:
    """int8 results of the real interpreter over a data set.

    ``outputs``: dequantised output scores (N, classes); ``predictions``: their argmax;
    ``agreement``: fraction of samples where ``predictions`` equals the reference (float
    model) argmax, None without a reference.
    """

    accuracy: float
    agreement: float | None
    predictions: np.ndarray
    outputs: np.ndarray
    n_samples: int
    seconds_per_inference: float
    arena_size: int


def _labels(a: np.ndarray, n: int, what: str) -> np.ndarray:
    a = np.asarray(a)
    if len(a) != n:
        raise ValueError(f"{what} has {len(a)} entries for {n} samples")
    return a.reshape(n, -1).argmax(axis=1) if a.ndim > 1 else a.astype(np.int64)


def evaluate_int8(
    tflite_bytes: bytes,
    x: np.ndarray,
    y: np.ndarray,
    *,
    arena_size: int,
    reference: np.ndarray | None = None,
    workers: int = 1,
) -> TflmEvaluation:
    """Run every sample of float inputs ``x`` through the TFLM interpreter (in child processes).

    Inputs are quantised with the model's input scale and zero point, outputs dequantised with
    the output's. ``y``: class labels (N,) or one-hot/scores (N, C). ``reference``: the float
    model's predictions on ``x`` (labels or scores), for ``agreement``. ``workers``: number of
    child processes the samples are split over (the interpreter is single-threaded).
    ``seconds_per_inference`` is the interpreter time per sample (summed over workers).
    """
    io = read_model_io(tflite_bytes)
    if len(io.inputs) != 1 or len(io.outputs) != 1:
        raise ValueError("evaluate_int8 supports single-input, single-output models")
    inp, out = io.inputs[0], io.outputs[0]
    x = np.asarray(x)
    n = len(x)
    per_sample = int(np.prod(inp.shape[1:]))
    if n == 0:
        raise ValueError("x holds no samples")
    if int(np.prod(x.shape[1:])) != per_sample:
        raise ValueError(f"samples of shape {x.shape[1:]} do not fit model input {inp.shape}")
    labels = _labels(y, n, "y")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    xq = inp.quantise(x.reshape(n, *inp.shape[1:])) if inp.scale else x.astype(inp.dtype)
    chunks = [c for c in np.array_split(xq, min(workers, n)) if len(c)]

    def run_chunk(chunk: np.ndarray) -> tuple[np.ndarray, float]:
        with TflmRunner(tflite_bytes) as runner:
            return runner.run(chunk, arena=arena_size)

    if len(chunks) == 1:
        results = [run_chunk(chunks[0])]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(chunks)) as pool:
            results = list(pool.map(run_chunk, chunks))
    raw = np.concatenate([r[0] for r in results])
    seconds = sum(r[1] for r in results)
    scores = out.dequantise(raw) if out.scale else raw.astype(np.float32)
    scores = scores.reshape(n, -1)
    predictions = scores.argmax(axis=1)
    agreement = None
    if reference is not None:
        agreement = float(np.mean(predictions == _labels(reference, n, "reference")))
    return TflmEvaluation(
        accuracy=float(np.mean(predictions == labels)),
        agreement=agreement,
        predictions=predictions,
        outputs=scores,
        n_samples=n,
        seconds_per_inference=seconds / n,
        arena_size=int(arena_size),
    )
