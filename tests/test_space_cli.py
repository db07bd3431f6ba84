"""``python -m search_engine sample``: canonical JSON, reproducible, clear errors (status 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from search_engine.cli import main
from search_engine.space import SearchSpace

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "search_engine", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sample_prints_a_canonical_architecture_reproducibly():
    args = ("sample", "--seed", "5", "--input-shape", "32,32,3", "--classes", "10")
    first, second = _run(*args), _run(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    obj = json.loads(first.stdout)
    space = SearchSpace((32, 32, 3), 10)
    arch = space.from_json(obj, require_canonical=True)
    assert obj["schema_version"] == 1 and arch.blocks


def test_different_seeds_differ(capsys):
    outputs = []
    for seed in ("1", "2"):
        assert main(["sample", "--seed", seed, "--input-shape", "28,28,1", "--classes", "10"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] != outputs[1]


@pytest.mark.parametrize(
    "args, message",
    [
        (("--input-shape", "0,5,1", "--classes", "10"), "--input-shape: expected H,W,C"),
        (("--input-shape", "5,5", "--classes", "10"), "--input-shape: expected H,W,C"),
        (("--input-shape", "a,b,c", "--classes", "10"), "--input-shape: expected H,W,C"),
        (("--input-shape", "5,5,1", "--classes", "1"), "--classes: expected an integer >= 2"),
        (("--input-shape", "5,5,1", "--classes", "x"), "--classes: expected an integer >= 2"),
        (("--input-shape", "5,5,1", "--classes", "3", "--seed", "-1"), "--seed: expected"),
        (("--input-shape", "5,5,1", "--classes", "3", "--seed", "1.5"), "--seed: expected"),
        (
            (
                "--classes",
                "3",
            ),
            "required: --input-shape",
        ),
    ],
)
def test_bad_arguments_exit_with_status_2(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["sample", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err


def test_bad_arguments_from_the_command_line():
    result = _run("sample", "--input-shape", "0,5,1", "--classes", "10")
    assert result.returncode == 2 and result.stdout == ""
    assert "expected H,W,C as three positive integers" in result.stderr.splitlines()[-1]
