"""Subprocess entry that runs ``.tflite`` models in the TFLM interpreter on request.

Run as a script (``python arena_probe.py``), never imported by the parent for its work: a far
too small arena can make TFLM crash the whole process (segfault), so every interpreter lives
here, in a child that the parent (:mod:`search_engine.export.tflm`) restarts when it dies.
This file is self-contained on purpose: it imports ``numpy`` and ``tflite_micro`` only, never
TensorFlow and nothing from ``search_engine``, so it starts in a fraction of a second.

Protocol: one JSON object per line on stdin, one JSON reply per line on the protocol stream.
File descriptor 1 is moved away at start-up and fd 1 is pointed at stderr, so anything TFLM
prints from C++ cannot corrupt the replies.

Commands (``{"cmd": ...}``):

- ``load`` ``{"path": model file}`` -> ``{"ok": true, "inputs": n, "outputs": n}``
- ``probe`` ``{"arena": bytes, "record": bool}`` -> ``{"ok": bool, "error": str}``; with
  ``record`` and success also ``"total"``, ``"head"``, ``"tail"`` (bytes, TFLM's own
  RecordingMicroAllocator figures). A probe builds a fresh interpreter (AllocateTensors), sets
  zero inputs and invokes once.
- ``run`` ``{"arena": bytes, "x_path": .npy (N, *input shape) of the input dtype,
  "out_path": .npy}`` -> ``{"ok": true, "seconds": s}``; writes the raw outputs (N, *output
  shape) of output 0.
- ``quit``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from typing import Any

_TOTAL_RE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def _allocation_figures(interpreter: Any) -> dict[str, int]:
    """Capture TFLM's C++ ``PrintAllocations`` output (written to fd 2) and parse it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            interpreter.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode("utf-8", "replace")
    return {m.group(1): int(m.group(2)) for m in _TOTAL_RE.finditer(text)}


class _Server:
    def __init__(self) -> None:
        self.model: bytes | None = None
        self.n_inputs = 0

    def _interpreter(self, arena: int) -> Any:  # a tflite_micro Interpreter (untyped)
        from tflite_micro.python.tflite_micro import runtime

        return runtime.Interpreter.from_bytes(self.model, arena_size=int(arena))

    def load(self, req: dict[str, Any]) -> dict[str, Any]:
        with open(req["path"], "rb") as f:
            self.model = f.read()
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

        sub = schema.Model.GetRootAsModel(self.model, 0).Subgraphs(0)
        self.n_inputs = sub.InputsLength()
        return {"ok": True, "inputs": self.n_inputs, "outputs": sub.OutputsLength()}

    def probe(self, req: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        interp = self._interpreter(req["arena"])
        for i in range(self.n_inputs):
            d = interp.get_input_details(i)
            interp.set_input(np.zeros(d["shape"], dtype=d["dtype"]), i)
        interp.invoke()
        reply: dict[str, Any] = {"ok": True}
        if req.get("record"):
            reply.update(_allocation_figures(interp))
        return reply

    def run(self, req: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        x = np.load(req["x_path"])
        interp = self._interpreter(req["arena"])
        d = interp.get_input_details(0)
        shape = tuple(int(s) for s in d["shape"])
        outs = []
        start = time.perf_counter()
        for sample in x:
            interp.set_input(sample.reshape(shape), 0)
            interp.invoke()
            outs.append(np.array(interp.get_output(0), copy=True))
        seconds = time.perf_counter() - start
        np.save(req["out_path"], np.stack(outs) if outs else np.zeros((0,), dtype=np.int8))
        return {"ok": True, "seconds": seconds}


def main() -> int:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # C++ prints to fd 1 now land on stderr, not in the protocol stream
    sys.stdout = sys.stderr
    server = _Server()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        cmd = req.get("cmd")
        if cmd == "quit":
            break
        try:
            if cmd == "load":
                reply = server.load(req)
            elif cmd == "probe":
                reply = server.probe(req)
            elif cmd == "run":
                reply = server.run(req)
            else:
                reply = {"ok": False, "error": f"unknown command {cmd!r}"}
        except Exception as exc:  # reported to the parent, which decides
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        proto.write(json.dumps(reply) + "\n")
        proto.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
