"""A one-line live progress display for the terminal (redrawn in place on a TTY)."""

from __future__ import annotations

import sys
from typing import Any, TextIO


class ProgressLine:
    """``[#####-----] 12/60 | best err 0.083 | front 5 | HV 0.412 | running 2 | rejected 14``."""

    def __init__(self, search: Any, stream: TextIO | None = None, width: int = 24) -> None:
        self.search = search
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last = ""

    def text(self) -> str:
        search = self.search
        total = search.config.rounds
        done = search.evaluated
        filled = int(self.width * done / total) if total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        best = search.best_error()
        best_text = "-" if best is None else f"{best:.3f}"
        failed = search.state.count("failed")
        parts = [f"[{bar}] {done}/{total}", f"best err {best_text}",
                 f"front {len(search.front())}", f"HV {search.current_hypervolume:.3f}",
                 f"running {search.state.count('running')}",
                 f"rejected {search.state.rejected}"]
        stopped = sum(1 for c in search.state.candidates
                      if c.state == "done" and c.metrics.get("stopped_early"))
        if stopped:
            parts.append(f"stopped early {stopped}")
        if failed:
            parts.append(f"failed {failed}")
        return " | ".join(parts)

    def update(self, kind: str = "", candidate: Any = None) -> None:
        line = self.text()
        if kind == "failed" and candidate is not None:
            self._write_line(f"candidate {candidate.id} failed: {candidate.error_message}")
        if line == self._last:
            return
        self._last = line
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self.stream.flush()
        else:
            self._write_line(line)

    def _write_line(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()
