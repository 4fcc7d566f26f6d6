"""On a CUDA device: cuDNN behind the fused backend, the loop on the GPU, weights flattened."""

from __future__ import annotations

from functools import partial
import warnings

import pytest
import torch

from seqkit.modules import GRU, LSTM, RNN

pytestmark = pytest.mark.gpu


def _trained_on_cuda():
    """A callback that records the device the module trains on (Lightning moves it back to the CPU at teardown)."""
    import lightning.pytorch as pl

    class DeviceSeen(pl.Callback):
        device = None

        def on_train_batch_end(self, trainer, module, *args):
            DeviceSeen.device = module.device.type

    return DeviceSeen()


@pytest.fixture(autouse=True)
def exact_float32():
    """cuDNN and cuBLAS may use TF32 for float32 (about 1e-3 relative); compare in full precision.

    torch 2.9 added per-backend `fp32_precision` settings and deprecated `allow_tf32`; set both
    kinds where both exist, so that neither the reference nor seqkit runs in TF32.
    """
    new_api = hasattr(torch.backends, "fp32_precision")
    settings = [(torch.backends.cudnn, "allow_tf32", False), (torch.backends.cuda.matmul, "allow_tf32", False)]
    if new_api:
        settings += [(torch.backends, "fp32_precision", "ieee"), (torch.backends.cuda.matmul, "fp32_precision", "ieee"),
                     (torch.backends.cudnn, "fp32_precision", "ieee"), (torch.backends.cudnn.rnn, "fp32_precision", "ieee")]
    previous = [(owner, name, getattr(owner, name)) for owner, name, _ in settings]
    for owner, name, value in settings:
        setattr(owner, name, value)
    yield
    for owner, name, value in reversed(previous):
        setattr(owner, name, value)


@pytest.mark.parametrize("backend", ["fused", "loop", "compiled"])
@pytest.mark.parametrize("cls,reference_cls", [(RNN, torch.nn.RNN), (LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)])
def test_equal_to_torch_nn_on_cuda(cls, reference_cls, backend):
    torch._dynamo.reset()
    torch.manual_seed(0)
    reference = reference_cls(16, 32, num_layers=2, bidirectional=True, batch_first=True).cuda()
    module = cls(16, 32, num_layers=2, bidirectional=True, backend=backend).cuda()
    module.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(8, 20, 16, device="cuda")
    out, _ = module(x)
    ref_out, _ = reference(x)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=0)
    out.square().sum().backward()
    ref_out.square().sum().backward()
    for (name, p), q in zip(module.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-4, rtol=1e-4, msg=name)


def test_fused_weights_are_flattened_for_cudnn():
    module = LSTM(16, 32, num_layers=2).cuda()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "weights are not part of single contiguous chunk" would fail
        module(torch.randn(4, 10, 16, device="cuda"))
    back = module.cpu()
    assert back.weight_ih_l0.device.type == "cpu"
    back(torch.randn(4, 10, 16))


def test_trained_on_gpu_loads_on_cpu(tmp_path):
    module = GRU(4, 8).cuda()
    torch.save(module.state_dict(), tmp_path / "gru.pt")
    state = torch.load(tmp_path / "gru.pt", map_location="cpu", weights_only=True)
    cpu = GRU(4, 8)
    cpu.load_state_dict(state, strict=True)
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(cpu(x)[0], module(x.cuda())[0].cpu(), atol=1e-5, rtol=0)


def test_language_model_trained_on_gpu_loads_on_cpu(tmp_path):
    import lightning.pytorch as pl

    from seqkit.data.next_word import NextWordData
    from seqkit.tasks.next_word import NextWordTask

    corpus = tmp_path / "train.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 200)
    data = NextWordData(train_path=str(corpus), batch_size=4, eval_batch_size=2, bptt=6)
    task = NextWordTask(LSTM(16, 16), tie_weights=True, optimizer=partial(torch.optim.AdamW, lr=0.01))
    seen = _trained_on_cuda()
    trainer = pl.Trainer(accelerator="gpu", devices=1, max_epochs=1, limit_train_batches=5, limit_val_batches=2,
                         default_root_dir=tmp_path, logger=False, enable_progress_bar=False, callbacks=[seen])
    trainer.fit(task, datamodule=data)
    assert seen.device == "cuda"
    loaded = NextWordTask.from_checkpoint(trainer.checkpoint_callback.last_model_path, map_location="cpu")
    assert loaded.device.type == "cpu"
    assert len(loaded.predict_next("the cat", k=2)) == 2


def test_forecaster_trained_on_gpu_tests_there_and_forecasts_on_cpu(tmp_path):
    import lightning.pytorch as pl
    import numpy as np
    import pandas as pd

    from seqkit.data import Columns, ForecastData
    from seqkit.models import PinballLoss, SeasonalNaive
    from seqkit.tasks import ForecastTask

    steps = np.arange(300)
    frame = pd.DataFrame({"time": pd.date_range("2020-01-01", periods=300, freq="h"),
                          "y": 10 + np.sin(2 * np.pi * steps / 24) + 0.01 * steps})
    data = ForecastData(columns=Columns(time_column="time", target_columns="y"), input_length=48, horizon=12).use_dataframe(frame)
    task = ForecastTask(LSTM(1, 16), loss=PinballLoss([0.1, 0.5, 0.9]), revin=True, baseline=SeasonalNaive(24), season=24)
    seen = _trained_on_cuda()
    trainer = pl.Trainer(accelerator="gpu", devices=1, max_epochs=2, default_root_dir=tmp_path, logger=False,
                         enable_progress_bar=False, callbacks=[seen])
    trainer.fit(task, datamodule=data)
    assert seen.device == "cuda"
    result = trainer.test(task, datamodule=data, verbose=False)[0]
    assert np.isfinite(result["test/mae"])
    loaded = ForecastTask.from_checkpoint(next(tmp_path.rglob("last.ckpt")), map_location="cpu")
    forecast = loaded.forecast(frame)
    assert len(forecast) == 12 and (forecast["y_q10"] <= forecast["y_q90"]).all()


@pytest.mark.parametrize("backend", ["fused", "loop"])
@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_trains_under_bfloat16_autocast_on_cuda(cls, backend):
    module = cls(16, 32, num_layers=2, bidirectional=True, backend=backend).cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out, _ = module(torch.randn(8, 20, 16, device="cuda"))
    out.float().square().mean().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all(), name
