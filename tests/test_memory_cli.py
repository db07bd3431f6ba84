"""``python -m search_engine.memory``: outputs for each input kind, one-line errors, status 2."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from search_engine import memory
from search_engine.resources import evaluate_order
from search_engine.resources.brute_force import brute_force_order
from search_engine.space import SearchSpace, architecture_to_json

ROOT = Path(__file__).resolve().parent.parent

GRAPH = {
    "tensors": {"in": 100, "a": 50, "b": 400, "c": 10, "d": 20, "out": 5},
    "inputs": ["in"],
    "outputs": ["out"],
    "ops": [
        {"name": "A", "inputs": ["in"], "output": "a"},
        {"name": "D", "inputs": ["a"], "output": "d"},
        {"name": "B", "inputs": ["a"], "output": "b"},
        {"name": "C", "inputs": ["b"], "output": "c"},
        {"name": "E", "inputs": ["c", "d"], "output": "out"},
    ],
}


def run(args, capsys):
    status = memory.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path, obj, name="g.json"):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_op_graph_output(tmp_path, capsys):
    status, out, err = run([write(tmp_path, GRAPH)], capsys)
    assert status == 0 and err == ""
    result = json.loads(out)
    assert result["default_peak_bytes"] == 470  # listed order keeps `a` alive beside `b`
    assert result["peak_bytes"] == 460 == brute_force_order(memory.load_json(
        tmp_path / "g.json", None))[0]
    assert result["order"] == ["A", "B", "C", "D", "E"]
    assert result["paper_peak_bytes"] == 460
    assert result["timeline"][0] == {"op": "A", "tensors": {"in": 100, "a": 50}, "total": 150}
    assert [s["total"] for s in result["timeline"]] == [150, 450, 460, 80, 35]
    assert [s["op"] for s in result["default_timeline"]] == ["A", "D", "B", "C", "E"]
    assert max(s["total"] for s in result["default_timeline"]) == 470


def test_order_only(tmp_path, capsys):
    status, out, _ = run([write(tmp_path, GRAPH), "--order-only"], capsys)
    assert status == 0
    assert json.loads(out) == {"peak_bytes": 460, "order": ["A", "B", "C", "D", "E"]}


def test_architecture_json(tmp_path, capsys):
    space = SearchSpace((28, 28, 1), 10)
    arch = space.sample(random.Random(4))
    path = write(tmp_path, architecture_to_json(arch), "arch.json")
    status, out, _ = run([path, "--input-shape", "28,28,1", "--classes", "10"], capsys)
    assert status == 0
    result = json.loads(out)
    from search_engine.graph.builder import build_op_graph

    graph = build_op_graph(arch, (28, 28, 1), 10)
    assert result["default_peak_bytes"] == evaluate_order(graph, [o.name for o in graph.ops]
                                                          ).peak_bytes
    assert evaluate_order(graph, result["order"]).peak_bytes == result["peak_bytes"]
    assert result["peak_bytes"] <= result["default_peak_bytes"]
    assert result["timeline"][0]["tensors"]["input"] == 784  # the model input counts
    assert result["paper_peak_bytes"] <= result["peak_bytes"]


def test_the_module_runs_as_a_script(tmp_path):
    path = write(tmp_path, GRAPH)
    proc = subprocess.run([sys.executable, "-m", "search_engine.memory", str(path),
                           "--order-only"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["peak_bytes"] == 460
    bad = subprocess.run([sys.executable, "-m", "search_engine.memory", str(tmp_path / "no")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "file not found" in bad.stderr


def mutated(**changes):
    g = json.loads(json.dumps(GRAPH))
    for key, value in changes.items():
        g[key] = value
    return g


def with_op(i, **fields):
    g = json.loads(json.dumps(GRAPH))
    g["ops"][i].update(fields)
    return g


MALFORMED = [
    ("{not json", "not JSON"),
    ("[1, 2]", "must be a JSON object"),
    (mutated(tensors={**GRAPH["tensors"], "b": -4}), "tensor 'b': size must be non-negative"),
    (mutated(tensors={**GRAPH["tensors"], "b": 4.0}), "tensor 'b': size must be a non-negative "
                                                       "integer"),
    (mutated(tensors={**GRAPH["tensors"], "b": True}), "tensor 'b': size must be"),
    (mutated(tensors={**GRAPH["tensors"], "b": "4"}), "tensor 'b': size must be"),
    (mutated(tensors=[1]), "tensors must be an object"),
    ({k: v for k, v in GRAPH.items() if k != "outputs"}, "missing key(s) 'outputs'"),
    (with_op(1, inputs=["zzz"]), "op 'D': unknown tensor 'zzz'"),
    (with_op(1, name="A"), "duplicate op name 'A'"),
    (with_op(1, output="b"), "tensor 'b' is written twice"),
    (with_op(1, output="in"), "op 'D' writes graph input 'in'"),
    (with_op(0, inputs=["c"]), "the graph has a cycle"),
    (with_op(1, inputs=["b"]), "not a valid execution order: op 'D' reads tensor 'b', written "
                               "later by op 'B'"),
    (mutated(outputs=["zzz"]), "outputs: unknown tensor 'zzz'"),
    ({**with_op(4, inputs=["c", "ghost"]), "tensors": {**GRAPH["tensors"], "ghost": 3}},
     "op 'E' reads tensor 'ghost', which is neither a graph input nor written by any op"),
    (mutated(ops=GRAPH["ops"][:4]), "graph output 'out' is not written by any op"),
    (mutated(ops=[]), "the graph has no ops"),
    (with_op(2, inputs="a"), "must be a list of tensor names"),
    (with_op(2, macs=-1), "macs must be a non-negative integer"),
    (mutated(inputs=["in", "in"]), "tensor 'in' listed twice"),
    ({**GRAPH, "ops": [{"name": "A", "inputs": ["in"]}]}, "missing key 'output'"),
    ({**GRAPH, "ops": ["A"]}, "ops[0] must be an object"),
    ({**GRAPH, "tensors": {**GRAPH["tensors"], "c": 2**70}}, None),  # big ints are fine
]


@pytest.mark.parametrize(("content", "message"), MALFORMED)
def test_malformed_input(tmp_path, capsys, content, message):
    status, out, err = run([write(tmp_path, content)], capsys)
    if message is None:
        assert status == 0
        return
    assert status == 2, out
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err


def test_file_and_argument_errors(tmp_path, capsys):
    status, _, err = run([tmp_path / "missing.json"], capsys)
    assert status == 2 and "file not found" in err and err.count("\n") == 1
    status, _, err = run([tmp_path], capsys)
    assert status == 2 and "not a regular file" in err
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    status, _, err = run([tmp_path / "bin.json"], capsys)
    assert status == 2 and "not JSON" in err
    arch = architecture_to_json(SearchSpace((28, 28, 1), 10).sample(random.Random(1)))
    path = write(tmp_path, arch, "a.json")
    status, _, err = run([path], capsys)
    assert status == 2 and "needs --input-shape" in err
    status, _, err = run([path, "--input-shape", "28,28", "--classes", "10"], capsys)
    assert status == 2 and "--input-shape must be H,W,C" in err
    status, _, err = run([path, "--input-shape", "28,x,1", "--classes", "10"], capsys)
    assert status == 2 and "--input-shape must be H,W,C" in err
    status, _, err = run([path, "--input-shape", "28,28,1", "--classes", "1"], capsys)
    assert status == 2 and "invalid architecture" in err and err.count("\n") == 1
    broken = dict(arch, blocks="nope")
    status, _, err = run([write(tmp_path, broken, "b.json"), "--input-shape", "28,28,1",
                          "--classes", "10"], capsys)
    assert status == 2 and "invalid architecture: blocks" in err
    with pytest.raises(SystemExit) as exit_info:
        memory.main([])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_tflite_loader_registered_by_suffix(tmp_path, capsys, monkeypatch):
    assert memory.LOADERS[".tflite"] is memory.load_tflite
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    status, _, err = run([junk], capsys)
    assert status == 2 and "cannot read the .tflite model" in err and err.count("\n") == 1
    # Without the exporter module the CLI says clearly that .tflite is unavailable.
    monkeypatch.setitem(sys.modules, "search_engine.export.tflite_graph", None)
    status, _, err = run([junk], capsys)
    assert status == 2 and ".tflite support is unavailable" in err


@pytest.mark.slow
def test_tflite_model(tmp_path, capsys):
    """A real converted model: the default order is the stored one, the optimum is exact."""
    from search_engine.export.convert import convert_to_int8_tflite
    from search_engine.export.demo_models import branched_model, digits_data
    from search_engine.export.tflite_graph import load_tflite_op_graph

    x_train = digits_data()[0]
    path = tmp_path / "m.tflite"
    path.write_bytes(convert_to_int8_tflite(branched_model(), x_train, num_samples=20))
    status, out, err = run([path], capsys)
    assert status == 0, err
    result = json.loads(out)
    graph = load_tflite_op_graph(path)
    stored = [op.name for op in graph.ops]
    assert [s["op"] for s in result["default_timeline"]] == stored
    assert result["default_peak_bytes"] == evaluate_order(graph, stored).peak_bytes
    assert result["peak_bytes"] == brute_force_order(graph)[0]
    assert result["peak_bytes"] <= result["default_peak_bytes"]
