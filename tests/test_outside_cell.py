"""A cell that seqkit's source never names, from a package outside it, through every command.

The package is written into a temporary folder: a minimal gated unit (no fused kernel) and an
IndRNN (its own parameter shapes: one recurrent weight per unit). It becomes known in the two
ways a user has: installed, through an entry point in the group `seqkit.modules` (a
`.dist-info` folder on `sys.path` is what `pip install` leaves), or named with `--import`.
Then it is trained, evaluated, used by every inference command and served, and a checkpoint
of it is refused, in one line naming both ways, where neither was taken.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from seqkit.cli import main
from seqkit.modules import registry

CELLS = '''
import torch
from torch.nn import functional as F

from seqkit.modules import Recurrent


def mgu_step(x_proj, state, weight_hh, bias_hh):
    (h,) = state
    x_f, x_n = x_proj.chunk(2, dim=1)
    u_f, u_n = weight_hh.chunk(2, dim=0)
    b_f, b_n = bias_hh.chunk(2) if bias_hh is not None else (None, None)
    f = torch.sigmoid(x_f + F.linear(h, u_f, b_f))
    n = torch.tanh(x_n + F.linear(f * h, u_n, b_n))
    h = (1 - f) * h + f * n
    return (h,), {"pre": x_proj, "f": f, "n": n}


class MGU(Recurrent):
    """Minimal gated unit (Zhou et al. 2016)."""

    gates = 2
    linear_recurrence = False
    step = staticmethod(mgu_step)
    gate_names = ("f", "n")
    formula = ("f = sigmoid(W_f x_t + U_f h_{t-1} + b_f)", "h_t = (1 - f) * h_{t-1} + f * tanh(W_n x_t + U_n (f * h_{t-1}) + b_n)")


def indrnn_step(x_proj, state, weight_hh, bias_hh):
    (h,) = state
    pre = x_proj + weight_hh * h          # u * h_{t-1}: each unit sees only its own past
    if bias_hh is not None:
        pre = pre + bias_hh
    h = torch.relu(pre)
    return (h,), {"pre": pre}


class IndRNN(Recurrent):
    """Independently recurrent network (Li et al. 2018): h_t = relu(W x_t + u * h_{t-1} + b)."""

    gates = 1
    linear_recurrence = False
    step = staticmethod(indrnn_step)

    def parameter_shapes(self, layer_input):
        shapes = {"weight_ih": (self.hidden_size, layer_input), "weight_hh": (self.hidden_size,)}
        if self.bias:
            shapes.update(bias_ih=(self.hidden_size,), bias_hh=(self.hidden_size,))
        return shapes
'''

SHORT = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
         "--trainer.enable_progress_bar", "false"]


@pytest.fixture
def outside(tmp_path, monkeypatch, only_seqkit_cells):
    """Write the package `{name}` (and, for the entry point, its `.dist-info`) and undo every trace of it afterwards."""

    def make(name: str, entry_point: bool) -> None:
        site = tmp_path / "site"
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text(CELLS)
        if entry_point:
            info = site / f"{name}-0.1.dist-info"
            info.mkdir()
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
            (info / "entry_points.txt").write_text(f"[seqkit.modules]\nmgu = {name}:MGU\nindrnn = {name}:IndRNN\n")
        monkeypatch.syspath_prepend(str(site))

    yield make
    for module in [m for m in sys.modules if m.startswith(("plugged_cells", "own_cells"))]:
        del sys.modules[module]


@pytest.mark.slow
@pytest.mark.parametrize("way", ["entry point", "--import"])
def test_an_outside_cell_goes_through_every_command(way, outside, tmp_path, capsys, monkeypatch):
    name = "plugged_cells" if way == "entry point" else "own_cells"
    outside(name, entry_point=way == "entry point")
    opt_in = [] if way == "entry point" else ["--import", name]
    # A recipe names the cell by its class name (an entry point's cell) or by class path.
    mgu = "MGU" if way == "entry point" else f"{name}.MGU"
    monkeypatch.chdir(tmp_path)

    # seqkit modules lists it; trace and gradients take it by its short name.
    assert main([*opt_in, "modules", "--cells", "mgu", "--budget", "0.05"]) == 0
    out = capsys.readouterr().out
    assert f"mgu      {name}.MGU: 2 gate block(s), no fused kernel" in out and "S    mgu   fwd+bwd" in out
    assert main([*opt_in, "trace", "--cells", "mgu", "--hidden_size", "3", "--x", "1,0.5,-1"]) == 0
    out = capsys.readouterr().out
    assert "f = sigmoid(W_f x_t" in out and " f " in out.splitlines()[4]  # its formula and its gate f
    assert main([*opt_in, "trace", "--cells", "indrnn", "--hidden_size", "3", "--x", "1,0.5"]) == 0
    assert "h_t = relu(W x_t + u * h_{t-1} + b)" in capsys.readouterr().out
    assert main([*opt_in, "gradients", "--cells", "lstm,mgu,indrnn", "--length", "20", "--hidden_size", "8",
                 "--plot", "gradients.png"]) == 0
    assert {"mgu", "indrnn"} <= {line.split()[0] for line in capsys.readouterr().out.splitlines() if line}

    # fit, validate, test, predict; the fit says which path the cell runs.
    runs = {}
    for job, recipe, extra in (("next_word", "next_word/lstm", ["--data.max_tokens", "300"]),
                               ("sentiment", "sentiment/lstm_reviews", []),
                               ("forecast", "forecasting/lstm", [])):
        runs[job] = tmp_path / job
        assert main([*opt_in, "fit", "-c", recipe, *extra, *SHORT, "--model.init_args.encoder.class_path", mgu,
                     "--trainer.default_root_dir", str(runs[job])]) == 0
        assert "MGU has no fused kernel: backend='auto' runs its readable loop" in capsys.readouterr().err
    checkpoint = str(next(runs["next_word"].rglob("last.ckpt")))
    lm = ["-c", "next_word/lstm", "--data.max_tokens", "300", "--model.init_args.encoder.class_path", mgu,
          "--trainer.enable_progress_bar", "false", "--ckpt_path", checkpoint]
    assert main([*opt_in, "validate", *lm]) == 0
    assert main([*opt_in, "test", *lm]) == 0
    (tmp_path / "prompts.txt").write_text("and god said\nin the beginning\n")
    assert main([*opt_in, "predict", *lm, "--data.predict_path", str(tmp_path / "prompts.txt")]) == 0
    capsys.readouterr()

    # The inference commands load the checkpoints with no recipe at all.
    assert main([*opt_in, "generate", "--ckpt_path", str(runs["next_word"]), "--prompt", "and god",
                 "--max_new_tokens", "3", "--seed", "0"]) == 0
    assert main([*opt_in, "classify", "--ckpt_path", str(runs["sentiment"]), "a lovely film"]) == 0
    assert main([*opt_in, "trace", "--ckpt_path", str(runs["sentiment"]), "--text", "a lovely film"]) == 0
    out = capsys.readouterr().out
    assert "through the bidirectional mgu encoder" in out and "mean f fwd" in out
    assert main([*opt_in, "recipes", "copy", "co2_weekly.csv"]) == 0
    assert main([*opt_in, "forecast", "--ckpt_path", str(runs["forecast"]), "--input", "co2_weekly.csv"]) == 0
    assert main([*opt_in, "backtest", "--ckpt_path", str(runs["forecast"]), "--input", "co2_weekly.csv",
                 "--test_size", "30"]) == 0
    capsys.readouterr()

    # compare trains the outside cell beside seqkit's.
    assert main([*opt_in, "compare", "-c", "memory/adding", "--cells", f"lstm,{mgu if '.' in mgu else 'mgu'}",
                 "--output_dir", "compared", "--", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                 "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
                 "--data.train_size", "64", "--data.val_size", "32", "--data.test_size", "32"]) == 0
    assert {row.split(",")[0] for row in (tmp_path / "compared" / "results.csv").read_text().splitlines()[1:]} == \
        {"lstm", "mgu"}

    # serve's API, from the command itself (its server replaced by the app it would run).
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    import uvicorn
    from fastapi.testclient import TestClient

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(app=app))
    assert main([*opt_in, "serve", "--ckpt_path", str(runs["next_word"]), "--port", "8799"]) == 0
    client = TestClient(served["app"], base_url="http://127.0.0.1:8799")
    assert len(client.get("/api/suggest", params={"text": "and god ", "k": 3}).json()["suggestions"]) == 3
    answer = client.get("/api/trace", params={"text": "and god said", "last": 2}).json()
    assert answer["cell"] == "MGU" and len(answer["parts"]["h"]) == 2

    # export: the ONNX file of the outside cell runs at other lengths and batch sizes than its example's,
    # with PyTorch's results.
    ort = pytest.importorskip("onnxruntime")
    from seqkit.tasks import NextWordTask, SentimentTask

    torch.manual_seed(0)
    for job, task_class in (("next_word", NextWordTask), ("sentiment", SentimentTask)):
        assert main([*opt_in, "export", "--ckpt_path", str(runs[job]), "--output", f"{job}.onnx"]) == 0
        side = json.loads((tmp_path / f"{job}.json").read_text())
        runner = ort.InferenceSession(str(tmp_path / f"{job}.onnx"))
        model = task_class.from_checkpoint(runs[job]).model
        tokens = torch.randint(0, len(side["vocab"]["itos"]), (3, 7))
        with torch.no_grad():
            if job == "next_word":  # one step at a time, from the carried state: a text of any length
                state = torch.zeros(side["state"]["layers"], 3, side["state"]["hidden_size"]).numpy()
                steps = []
                for t in range(7):
                    logits, state = runner.run(None, {"tokens": tokens[:, t : t + 1].numpy(), "h0": state})
                    steps.append(torch.from_numpy(logits))
                torch.testing.assert_close(torch.cat(steps, dim=1), model(tokens)[0], atol=1e-4, rtol=1e-4)
            else:  # padded texts of any length up to max_length, with their lengths
                lengths = [7, 1, 4]
                padded = torch.zeros(3, side["max_length"], dtype=torch.long)
                padded[:, :7] = tokens
                (probabilities,) = runner.run(None, {"tokens": padded.numpy(), "lengths": torch.tensor(lengths).numpy()})
                alone = torch.cat([torch.softmax(model(tokens[k : k + 1, :n]), -1) for k, n in enumerate(lengths)])
                torch.testing.assert_close(torch.from_numpy(probabilities), alone, atol=1e-4, rtol=1e-4)


def test_the_guides_data_module_trains_and_its_checkpoint_needs_no_data_module(outside, tmp_path, capsys, monkeypatch):
    """docs/extending.md's LinesData, saved as mydata.py in the current folder: fit, generate, predict."""
    import random
    import re

    guide = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
    block = next(b for b in re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.S) if "class LinesData" in b)
    (tmp_path / "mydata.py").write_text(block)
    rng = random.Random(0)
    words = "the cat sat on a mat and the dog ran to the park while birds sang in the tall green trees".split()
    (tmp_path / "corpus.txt").write_text("".join(" ".join(rng.choices(words, k=rng.randint(5, 12))) + "\n"
                                                 for _ in range(400)))
    (tmp_path / "prompts.txt").write_text("the cat\na dog ran\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])  # found through --import
    data = ["--data", "mydata.LinesData", "--data.path", "corpus.txt", "--data.batch_size", "4"]
    assert main(["--import", "mydata", "fit", "-c", "next_word/lstm", *data, *SHORT, "--trainer.default_root_dir",
                 "runs"]) == 0
    assert "best checkpoint" in capsys.readouterr().err  # validation ran on the held-out lines
    assert main(["generate", "--ckpt_path", "runs", "--prompt", "the cat", "--max_new_tokens", "3"]) == 0
    assert main(["--import", "mydata", "predict", "-c", "next_word/lstm", *data, "--data.predict_path", "prompts.txt",
                 "--ckpt_path", "runs", "--trainer.enable_progress_bar", "false"]) == 0
    import pandas as pd

    written = pd.read_csv(next(tmp_path.rglob("predictions.csv")))
    assert list(written.prompt) == ["the cat", "a dog ran"] and written.next_1.notna().all()
    sys.modules.pop("mydata", None)


FORECAST_DATA = '''
import pandas as pd

from seqkit.data import Columns, ForecastData


class SalesJSON(ForecastData):
    """Monthly sales from a JSON Lines file: ForecastData's windows, scaling and checks, my own reading."""

    def __init__(self, path: str, input_length: int = 12, horizon: int = 6):
        super().__init__(columns=Columns(time_column="month", target_columns="sales"), input_length=input_length,
                         horizon=horizon, val_size=12, test_size=12)
        self.path = path

    def setup(self, stage=None):
        if self._frame is None:
            self.use_dataframe(pd.read_json(self.path, lines=True))
        super().setup(stage)
'''


def test_a_forecasting_data_module_of_ones_own_subclasses_forecast_data(outside, tmp_path, capsys, monkeypatch):
    """Its checkpoint carries ForecastData's state, so `seqkit forecast` needs no DataModule."""
    import numpy as np
    import pandas as pd

    (tmp_path / "salesdata.py").write_text(FORECAST_DATA)
    months = pd.date_range("2015-01-01", periods=96, freq="MS")
    sales = 100 + 10 * np.sin(np.arange(96) * 2 * np.pi / 12) + np.arange(96) * 0.5
    frame = pd.DataFrame({"month": months.strftime("%Y-%m-%d"), "sales": sales})
    frame.to_json(tmp_path / "sales.jsonl", orient="records", lines=True)
    frame.to_csv(tmp_path / "sales.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--import", "salesdata", "-c", "forecasting/lstm", "--data", "salesdata.SalesJSON",
                 "--data.path", "sales.jsonl", "--data.input_length", "12", "--data.horizon", "6", *SHORT,
                 "--trainer.default_root_dir", "runs"]) == 0
    capsys.readouterr()
    assert main(["forecast", "--ckpt_path", "runs", "--input", "sales.csv", "--output", "forecast.csv"]) == 0
    forecast = pd.read_csv(tmp_path / "forecast.csv")
    assert len(forecast) == 6 and forecast["month"].iloc[0] == "2023-01-01"
    sys.modules.pop("salesdata", None)


def test_compare_checks_every_cell_before_it_trains_the_first(outside, tmp_path, capsys, monkeypatch):
    outside("own_cells", entry_point=False)
    monkeypatch.chdir(tmp_path)
    assert main(["--import", "own_cells", "compare", "-c", "memory/adding", "--cells", "lstm,gru,mgu", "--output_dir",
                 "compared", "--", "--model.init_args.encoder.init_args.backend", "fused"]) == 2
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert said.startswith("seqkit compare: error: --cells mgu: own_cells.MGU cannot run with this recipe "
                           "(backend='fused'): MGU has no fused kernel") and said.endswith("nothing was trained")
    assert not (tmp_path / "compared").exists() or not any((tmp_path / "compared").iterdir())


def test_a_checkpoint_of_an_outside_cell_is_refused_without_an_opt_in(outside, tmp_path, capsys):
    outside("own_cells", entry_point=False)
    assert main(["--import", "own_cells", "fit", "-c", "sentiment/lstm_reviews", *SHORT,
                 "--model.init_args.encoder.class_path", "own_cells.MGU", "--trainer.default_root_dir",
                 str(tmp_path / "run")]) == 0
    from seqkit.tasks import SentimentTask

    task = SentimentTask.from_checkpoint(next((tmp_path / "run").rglob("*.ckpt")))
    assert type(task.encoder).__name__ == "MGU"
    # The same checkpoint in a program that never imported own_cells.
    del sys.modules["own_cells"]
    registry.DEFINED.pop("mgu")
    registry.DEFINED.pop("indrnn")
    capsys.readouterr()
    assert main(["classify", "--ckpt_path", str(tmp_path / "run"), "a lovely film"]) == 2
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert "own_cells.MGU, which nothing installed or imported provides" in said
    assert "entry-point group 'seqkit.modules'" in said and "seqkit --import MODULE" in said
    assert "own_cells" not in sys.modules  # refusing imported nothing


def test_bad_opt_ins_are_said_in_one_line(outside, tmp_path, capsys, monkeypatch):
    assert main(["--import", "no_such_module_here", "modules", "--cells", "lstm"]) == 2
    assert "--import no_such_module_here: no module named 'no_such_module_here'" in capsys.readouterr().err
    site = tmp_path / "broken"
    (site / "broken_cells").mkdir(parents=True)
    (site / "broken_cells" / "__init__.py").write_text("raise RuntimeError('this package is broken')\n")
    info = site / "broken_cells-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-cells\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[seqkit.modules]\nbad = broken_cells:Bad\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_installed_loaded", False)  # as in a new process
    assert main(["trace", "--cells", "lstm"]) == 2
    said = capsys.readouterr().err.strip()
    assert said.count("\n") == 0 and "the package broken-cells declares the seqkit cell bad = broken_cells:Bad, " \
        "which fails to import: RuntimeError: this package is broken" in said
    # An entry point that names something other than a cell.
    (info / "entry_points.txt").write_text("[seqkit.modules]\nbad = json:dumps\n")
    monkeypatch.setattr(registry, "_installed_loaded", False)
    assert main(["trace", "--cells", "lstm"]) == 2
    said = capsys.readouterr().err.strip()
    assert said.count("\n") == 0 and "the package broken-cells declares bad = json:dumps: cell 'bad': <function dumps" \
        in said and "is not a subclass of seqkit.modules.Recurrent" in said


def test_a_cell_class_that_declares_inconsistent_gates_is_refused_where_it_is_defined():
    from seqkit.modules import Recurrent

    with pytest.raises(TypeError, match=r"gate_names \('a', 'b'\) names 2 blocks but gates = 3"):
        class Odd(Recurrent):
            gates = 3
            gate_names = ("a", "b")
            step = staticmethod(lambda x_proj, state, w, b: (state, {}))
    with pytest.raises(TypeError, match="it has no step function"):
        class NoStep(Recurrent):
            gates = 1


def test_fused_is_refused_for_a_cell_without_a_kernel_and_auto_runs_its_loop(outside):
    outside("own_cells", entry_point=False)
    from own_cells import MGU

    with pytest.raises(ValueError, match="MGU has no fused kernel; use backend='auto'"):
        MGU(2, 3, backend="fused")
    mgu = MGU(2, 3)
    assert mgu.backend == "auto" and mgu.path(5) == "loop"
    x = torch.randn(4, 5, 2)
    loop = MGU(2, 3, backend="loop")
    loop.load_state_dict(mgu.state_dict())
    torch.testing.assert_close(mgu(x)[0], loop(x)[0], rtol=0, atol=0)


def test_a_cell_owns_the_shapes_of_its_parameters(outside):
    outside("own_cells", entry_point=False)
    import own_cells

    cell = own_cells.IndRNN(3, 4, num_layers=2, bidirectional=True)
    shapes = {name: tuple(p.shape) for name, p in cell.named_parameters()}
    assert shapes["weight_hh_l0"] == (4,) and shapes["weight_ih_l1_reverse"] == (4, 8)
    x = torch.randn(2, 5, 3)
    # The formula, written out: each unit sees only its own past.
    w, u, b = cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_ih_l0 + cell.bias_hh_l0
    h = torch.zeros(2, 4)
    for t in range(5):
        h = torch.relu(x[:, t] @ w.T + u * h + b)
    single = own_cells.IndRNN(3, 4)
    single.load_state_dict({k: v for k, v in cell.state_dict().items() if k.endswith("_l0")})
    torch.testing.assert_close(single(x)[0][:, -1], h)


def test_from_checkpoint_loads_the_installed_package_a_checkpoint_needs(outside, tmp_path, monkeypatch):
    """Python's own way in (no command line): an installed package's entry point is read when a checkpoint needs it."""
    outside("plugged_cells", entry_point=True)
    assert main(["fit", "-c", "sentiment/lstm_reviews", *SHORT, "--model.init_args.encoder.class_path", "mgu",
                 "--trainer.default_root_dir", str(tmp_path / "run")]) == 0
    # As in a new program that has imported nothing of the package.
    del sys.modules["plugged_cells"]
    registry.DEFINED.pop("mgu")
    registry.DEFINED.pop("indrnn")
    registry._REGISTERED.clear()
    monkeypatch.setattr(registry, "_installed_loaded", False)
    from seqkit.tasks import SentimentTask

    task = SentimentTask.from_checkpoint(tmp_path / "run")
    assert type(task.encoder).__module__ == "plugged_cells" and "plugged_cells" in sys.modules
    assert task.predict(["a lovely film"])[0]["label"] in task.labels
