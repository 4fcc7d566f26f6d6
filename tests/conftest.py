"""Fixtures for every test: where the real corpora are, a loopback HTTP server, and the `gpu` marker's skip."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Where the real corpora are: `SEQKIT_DATA`, else seqkit's download cache (`SEQKIT_CACHE`, ~/.cache/seqkit)."""
    from seqkit.data.catalog import data_folder

    return data_folder()


@pytest.fixture
def corpora() -> Path:
    """The folder of real corpora (catalog layout: ptb/, wikitext-2/, sst2/, timeseries/); skips when absent."""
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set SEQKIT_DATA to a folder of the catalog's corpora)")
    return root


@pytest.fixture
def only_seqkit_cells(monkeypatch):
    """The registry of cells as a new process has it: seqkit's own cells, installed packages not yet read.

    Other tests define cells of their own (the guide's MGU, ...); everything is put back afterwards.
    """
    from seqkit.modules import registry

    saved = dict(registry.DEFINED), dict(registry._REGISTERED)
    for name in [n for n, cls in registry.DEFINED.items() if not cls.__module__.startswith("seqkit.")]:
        del registry.DEFINED[name]
    registry._REGISTERED.clear()
    monkeypatch.setattr(registry, "_installed_loaded", False)
    yield registry
    for table, before in zip((registry.DEFINED, registry._REGISTERED), saved):
        table.clear()
        table.update(before)


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder, without a log line per request; answers 503 while `failures` lasts."""

    failures: list[str] = []

    def do_GET(self):  # noqa: N802 (the http.server name)
        if self.path in self.failures:
            self.failures.remove(self.path)  # fail once, then serve: a flaky network
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_files(tmp_path):
    """A real HTTP server on a free loopback port serving `tmp_path`; returns `url(path)` for a file under it.

    `url(path, fail_once=True)` gives a URL whose first request answers 503 (for retries).
    """
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _QuietHandler.failures = []

    def url(path: Path, fail_once: bool = False) -> str:
        route = "/" + Path(path).relative_to(tmp_path).as_posix()
        if fail_once:
            _QuietHandler.failures.append(route)
        return f"http://127.0.0.1:{server.server_port}{route}"

    yield url
    server.shutdown()
    server.server_close()


# ----------------------------------------------------------------------------- a tiny trained sentiment model
_GOOD = ["a good film", "good acting and a good story", "really good", "the story was good", "good good good fun"]
_BAD = ["a bad film", "bad acting and a bad story", "really bad", "the story was bad", "bad bad bad boredom"]


def _train_tiny_sentiment(root: Path, epochs: int = 3) -> Path:
    import lightning.pytorch as pl
    import torch

    from seqkit.data.sentiment import SentimentData
    from seqkit.modules import LSTM
    from seqkit.tasks.sentiment import SentimentTask

    root.mkdir(parents=True, exist_ok=True)
    reviews = root / "reviews.csv"
    rows = [(text, "pos") for text in _GOOD] + [(text, "neg") for text in _BAD]
    reviews.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows * 20))
    torch.manual_seed(0)
    data = SentimentData(train_path=str(reviews), batch_size=16, eval_batch_size=32)
    task = SentimentTask(LSTM(16, 6, bidirectional=True), pooling="max", dropout=0.1,
                         optimizer=functools.partial(torch.optim.AdamW, lr=0.01))
    trainer = pl.Trainer(default_root_dir=root, accelerator="cpu", max_epochs=epochs, enable_progress_bar=False,
                         enable_model_summary=False, logger=False)
    trainer.fit(task, datamodule=data)
    return Path(trainer.checkpoint_callback.last_model_path)


@pytest.fixture(scope="module")
def tiny_sentiment():
    """`tiny_sentiment(root, epochs=3)`: train a tiny sentiment model under `root` (a run folder) and return its last.ckpt.

    Twenty copies of ten short reviews, "good" ones positive and "bad" ones negative; a small
    bidirectional LSTM learns them in a few seconds on one thread.
    """
    return _train_tiny_sentiment


# ----------------------------------------------------------------------------- short runs of the shipped recipes
def _fit(root: Path, recipe: str, *options: str) -> Path:
    from seqkit.cli import main

    assert main(["fit", "-c", recipe, *options, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                 "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
                 "--trainer.default_root_dir", str(root)]) == 0
    return root


@pytest.fixture(scope="module")
def language_model(tmp_path_factory) -> Path:
    """The run folder of `next_word/lstm` trained for two batches on a 300-word vocabulary."""
    return _fit(tmp_path_factory.mktemp("lm"), "next_word/lstm", "--data.max_tokens", "300")


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory) -> Path:
    """The run folder of `forecasting/lstm` (the weekly CO2 series) trained for two batches."""
    return _fit(tmp_path_factory.mktemp("co2"), "forecasting/lstm")
