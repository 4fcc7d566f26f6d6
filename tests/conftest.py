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
