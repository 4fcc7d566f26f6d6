"""`seqkit export`: each recipe family's model runs without seqkit, in onnxruntime and as pt2, with PyTorch's results."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seqkit.cli import main
from seqkit.tasks.forecast import ForecastTask
from seqkit.tasks.next_word import NextWordTask
from seqkit.tasks.sentiment import SentimentTask

SHORT = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
         "--trainer.enable_progress_bar", "false"]
FAMILIES = {  # recipe, the task class, extra options
    "next_word": ("next_word/lstm", NextWordTask, ["--data.max_tokens", "300"]),
    "sentiment": ("sentiment/lstm_reviews", SentimentTask, []),
    "forecast": ("forecasting/lstm", ForecastTask, []),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short run of a recipe of each family: the run folders."""
    runs = {}
    for family, (recipe, _, extra) in FAMILIES.items():
        root = tmp_path_factory.mktemp(family)
        assert main(["fit", "-c", recipe, *extra, *SHORT, "--trainer.default_root_dir", str(root)]) == 0
        runs[family] = root
    return runs


def _inputs(family: str, task) -> tuple[torch.Tensor, ...]:
    """Inputs of another batch size and length than the ones the export was traced with."""
    torch.manual_seed(1)
    if family == "next_word":
        encoder = task.model.encoder
        state = tuple(torch.randn(encoder.num_layers, 3, encoder.hidden_size) for _ in range(encoder.state_size))
        return (torch.randint(0, len(task.vocab), (3, 11)), *state)
    if family == "sentiment":
        return (torch.randint(0, len(task.vocab), (4, 13)),)
    shapes = task.shapes
    past = (torch.randn(5, shapes["input_length"], shapes["input_size"]),)
    return past + ((torch.randn(5, shapes["horizon"], shapes["future_size"]),) if shapes["future_size"] else ())


def _reference(family: str, task, inputs) -> list[torch.Tensor]:
    with torch.no_grad():
        if family == "next_word":
            logits, state = task.model(inputs[0], inputs[1:] if len(inputs) > 2 else inputs[1])
            return [logits, *(state if isinstance(state, tuple) else (state,))]
        if family == "sentiment":
            return [torch.softmax(task.model(inputs[0]), dim=-1)]
        future = inputs[1] if len(inputs) > 1 else inputs[0].new_zeros(inputs[0].shape[0], task.shapes["horizon"], 0)
        return [task.model(inputs[0], future)]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_onnx_file_runs_in_onnxruntime_with_pytorchs_results(family, trained, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime", reason="ONNX export is tested with the export extra installed")
    target = tmp_path / f"{family}.onnx"
    assert main(["export", "--ckpt_path", str(trained[family]), "--output", str(target)]) == 0
    assert f"seqkit export: wrote {target}" in capsys.readouterr().out
    side = json.loads(target.with_suffix(".json").read_text())
    task = FAMILIES[family][1].from_checkpoint(trained[family])
    assert side["task"] == task.task_name and side["model"] == target.name
    if family != "forecast":
        assert side["vocab"]["itos"] == task.vocab.get_itos()
    if family == "sentiment":
        assert side["labels"] == task.labels
    runner = ort.InferenceSession(str(target))
    assert [i.name for i in runner.get_inputs()] == side["inputs"]
    inputs = _inputs(family, task)
    results = runner.run(None, {name: tensor.numpy() for name, tensor in zip(side["inputs"], inputs)})
    for got, want in zip(results, _reference(family, task, inputs), strict=True):
        torch.testing.assert_close(torch.from_numpy(got), want, atol=1e-4, rtol=1e-4)


def test_the_sentiment_pt2_file_takes_padded_texts_and_gives_each_its_probabilities_alone(trained, tmp_path):
    """Texts of many lengths padded into one batch: the probabilities of each text read by itself."""
    target = tmp_path / "sentiment.pt2"
    assert main(["export", "--ckpt_path", str(trained["sentiment"]), "--format", "pt2", "--output", str(target)]) == 0
    side = json.loads(target.with_suffix(".json").read_text())
    assert side["inputs"] == ["tokens", "lengths"] and side["max_length"] >= 8
    program = torch.export.load(str(target)).module()
    task = FAMILIES["sentiment"][1].from_checkpoint(trained["sentiment"])
    texts = ["a fine film", "dull", "far too long and far too loud for what it has to say", "the cast is good"]
    ids = task.encode(texts)
    tokens = torch.full((len(ids), side["max_length"]), side["pad_id"], dtype=torch.long)
    for row, text_ids in enumerate(ids):
        tokens[row, : len(text_ids)] = text_ids
    got = program(tokens, torch.tensor([len(i) for i in ids]))
    alone = torch.stack([torch.softmax(task.model(i[None]), -1)[0] for i in ids])
    torch.testing.assert_close(got, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", ["next_word", "forecast"])
def test_the_pt2_file_loads_in_plain_torch_with_the_same_results(family, trained, tmp_path):
    target = tmp_path / f"{family}.pt2"
    assert main(["export", "--ckpt_path", str(trained[family]), "--format", "pt2", "--output", str(target)]) == 0
    program = torch.export.load(str(target))
    task = FAMILIES[family][1].from_checkpoint(trained[family])
    inputs = _inputs(family, task)
    if family == "next_word":  # one step from a carried state, the way a keyboard feeds it
        inputs = (inputs[0][:, :1], *inputs[1:])
    results = program.module()(*inputs)
    results = list(results) if isinstance(results, tuple) else [results]
    for got, want in zip(results, _reference(family, task, inputs), strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_export_refuses_what_it_cannot_write_in_one_line(trained, tmp_path, capsys):
    mine = tmp_path / "model.onnx"
    mine.write_bytes(b"mine")
    assert main(["export", "--ckpt_path", str(trained["sentiment"]), "--output", str(mine)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and mine.read_bytes() == b"mine"
    assert main(["export", "--ckpt_path", str(trained["sentiment"]), "--output", str(tmp_path / "s.pt2")]) == 2
    assert "seqkit writes .onnx here, not .pt2" in capsys.readouterr().err


def test_the_keyboard_form_steps_word_by_word_in_onnxruntime_as_the_suggester_does(trained, tmp_path):
    """`--keyboard`: one step from the word typed and the state; the log-probabilities of the next word."""
    ort = pytest.importorskip("onnxruntime")
    from seqkit.tasks.suggester import Suggester

    target = tmp_path / "keyboard.onnx"
    assert main(["export", "--ckpt_path", str(trained["next_word"]), "--keyboard", "--output", str(target)]) == 0
    side = json.loads(target.with_suffix(".json").read_text())
    assert side["keyboard"] and side["inputs"] == ["word", "h0", "c0"] and side["outputs"] == ["log_probs", "h_n", "c_n"]
    task = NextWordTask.from_checkpoint(trained["next_word"])
    runner = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    layers, hidden = side["state"]["layers"], side["state"]["hidden_size"]
    state = [np.zeros((layers, 1, hidden), dtype=np.float32) for _ in side["state"]["tensors"]]
    suggester = Suggester(task)
    for word in ["and", "god", "said"]:
        log_probs, *state = runner.run(None, {"word": np.array([task.vocab[word]]), "h0": state[0], "c0": state[1]})
        suggester.feed(word)
        np.testing.assert_allclose(np.exp(log_probs[0]), suggester.probabilities.numpy(), atol=1e-5)
    small = tmp_path / "keyboard.int8.onnx"
    assert main(["export", "--ckpt_path", str(trained["next_word"]), "--keyboard", "--int8", "--output", str(small)]) == 0
    assert small.stat().st_size < 0.5 * target.stat().st_size and json.loads(small.with_suffix(".json").read_text())["int8"]
    runner = ort.InferenceSession(str(small), providers=["CPUExecutionProvider"])
    zeros = [np.zeros((layers, 1, hidden), dtype=np.float32) for _ in side["state"]["tensors"]]
    log_probs = runner.run(None, {"word": np.array([task.vocab["god"]]), "h0": zeros[0], "c0": zeros[1]})[0]
    assert np.isfinite(log_probs).all() and np.exp(log_probs).sum() == pytest.approx(1.0, abs=1e-3)
    onnx = pytest.importorskip("onnx")
    operators = {node.op_type for node in onnx.load(small).graph.node}
    assert {"MatMulNBits", "DynamicQuantizeLinear"} <= operators and "MatMul" not in operators  # every product int8
    float_first = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"]).run(
        None, {"word": np.array([task.vocab["god"]]), "h0": zeros[0], "c0": zeros[1]})[0]
    np.testing.assert_allclose(np.exp(log_probs), np.exp(float_first), atol=0.02)


def test_the_keyboard_form_is_refused_where_it_cannot_be_written(trained, tmp_path, capsys):
    assert main(["export", "--ckpt_path", str(trained["sentiment"]), "--keyboard", "--output", str(tmp_path / "k.onnx")]) == 2
    assert "--keyboard takes a next_word checkpoint" in capsys.readouterr().err
    assert main(["export", "--ckpt_path", str(trained["next_word"]), "--keyboard", "--format", "pt2",
                 "--output", str(tmp_path / "k.pt2")]) == 2
    assert "--keyboard writes ONNX; drop --format pt2" in capsys.readouterr().err


def test_the_keyboard_page_runs_its_onnx_example_as_written(trained, tmp_path, monkeypatch, capsys):
    """docs/keyboard.md's Python block, run beside the files `seqkit export --keyboard` wrote: the Suggester's words."""
    pytest.importorskip("onnxruntime")
    import re
    from pathlib import Path

    from seqkit.tasks.suggester import Suggester

    page = (Path(__file__).resolve().parents[1] / "docs" / "keyboard.md").read_text()
    [example] = [block for block in re.findall(r"```python\n(.*?)```", page, re.S) if "InferenceSession" in block]
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--ckpt_path", str(trained["next_word"]), "--keyboard", "--output", "keyboard.onnx"]) == 0
    capsys.readouterr()
    exec(compile(example, "docs/keyboard.md", "exec"), {})
    task = NextWordTask.from_checkpoint(trained["next_word"])
    want = [word for word, _ in Suggester(task).feed("and god said").suggest(3)]
    assert capsys.readouterr().out.strip() == str(want)
