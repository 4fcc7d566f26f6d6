"""Load on `seqkit serve`: many clients at once, and the API's latency while a large upload is forecast.

    python benchmarks/serve_load.py                          # trains the two models it needs (a minute)
    python benchmarks/serve_load.py --lm RUN --forecast RUN  # or serves the checkpoints given

Starts `seqkit serve` as its own process (the keyboard's next-word model and a forecaster)
and drives it over HTTP from this one, `--clients` connections at once:
- suggest: each client types its own sentence letter by letter, one request per keystroke;
- trace: each client asks for the states after a sentence of its own, again and again;
- forecast: each client posts the weekly CO2 CSV that ships with seqkit;
then, one client alone: `/api/info` every 20 ms while another posts a CSV of about 4 MB
(30,000 weekly rows with a text column beside), which the server reads and forecasts.
Each load runs twice: the table gives the second pass (requests/s, p50 and p99 latency in
ms), and the p99 of the first, which includes the server's warming up. The client and the
server share the machine's cores, so the numbers are those of the pair.

Models not given are trained here for a few batches with the shipped recipes: the sizes
are the recipes' (the keyboard: `next_word/lstm`, 1 x 256 LSTM, its whole vocabulary), the
quality does not matter for the load.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
import pandas as pd

SENTENCES = ["and god said let there be light", "in the beginning was the word", "the lord is my shepherd i shall not want",
             "blessed are the meek for they shall inherit the earth", "and the earth was without form and void"]


def _train(folder: Path, recipe: str, *options: str) -> Path:
    root = folder / recipe.replace("/", "_")
    subprocess.run([sys.executable, "-m", "seqkit.cli", "fit", "-c", recipe, "--trainer.max_steps", "3",
                    "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
                    "--trainer.default_root_dir", str(root), *options], check=True)
    return root


def _percentiles(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 99) * 1000)


class _Connection:
    """One keep-alive HTTP/1.1 connection, written by hand: httpx costs more CPU per request than the server does."""

    def __init__(self, port: int) -> None:
        self.port, self.reader, self.writer = port, None, None

    async def request(self, method: str, path: str, params: dict | None = None, content: bytes = b"") -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        target = path + ("?" + urlencode(params) if params else "")
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(content)}\r\n\r\n"
        self.writer.write(head.encode() + content)
        status_line, length = await self.reader.readline(), 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _phase(port: int, clients: int, requests_of) -> tuple[float, list[float], list[int]]:
    """Every client sends its requests one after another; all clients at once. `(seconds, latencies, statuses)`."""
    times, statuses = [], []

    async def one(n: int) -> None:
        connection = _Connection(port)
        for method, path, kw in requests_of(n):
            start = time.perf_counter()
            statuses.append(await connection.request(method, path, **kw))
            times.append(time.perf_counter() - start)
        connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(clients)))
    return time.perf_counter() - start, times, statuses


def _keystrokes(n: int, count: int):
    text = " ".join(SENTENCES[n % len(SENTENCES)].split()[: 1 + n % 3]) + " "  # each client its own start
    sentence = SENTENCES[(n + 1) % len(SENTENCES)]
    for i in range(count):
        typed = text + sentence[: i % (len(sentence) + 1)]
        yield "GET", "/api/suggest", {"params": {"text": typed, "k": 3}}


async def _info_during_upload(base: str, csv: bytes) -> tuple[float, list[float], int]:
    async with httpx.AsyncClient(base_url=base, timeout=300) as uploader, httpx.AsyncClient(base_url=base) as asker:
        start = time.perf_counter()
        upload = asyncio.create_task(uploader.post("/api/forecast", content=csv))
        times: list[float] = []
        while not upload.done():
            asked = time.perf_counter()
            await asker.get("/api/info")
            times.append(time.perf_counter() - asked)
            await asyncio.sleep(0.02)
        response = await upload
        return time.perf_counter() - start, times, response.status_code


def _large_csv() -> bytes:
    dates = pd.date_range("1700-01-02", periods=30_000, freq="W-SAT")
    values = 300 + 0.002 * np.arange(len(dates)) + np.sin(np.arange(len(dates)) / 8.3)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "co2": values.round(3),
                          "note": ["a line of notes that the forecaster does not read " * 2] * len(dates)})
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", help="a next_word run folder or checkpoint (trained here if not given)")
    parser.add_argument("--forecast", help="a forecasting run folder or checkpoint (trained here if not given)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="requests per client for suggest and trace")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        lm = args.lm or _train(Path(folder), "next_word/lstm")
        forecaster = args.forecast or _train(Path(folder), "forecasting/lstm")
        with socket.create_server(("127.0.0.1", 0)) as probe:
            port = probe.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "seqkit.cli", "serve", "--ckpt_path", str(lm), "--forecast",
                                   str(forecaster), "--port", str(port)])
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(base + "/api/info").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            from seqkit import packaged

            co2_bytes = packaged.sample("co2_weekly.csv").read_bytes()
            phases = {
                "suggest (typing, one request a keystroke)": lambda n: _keystrokes(n, args.requests),
                "trace (12 words)": lambda n: [("GET", "/api/trace", {"params": {"text": SENTENCES[(n + i) % 5], "last": 12}})
                                               for i in range(args.requests // 2)],
                "forecast (the CO2 CSV, 2,200 weeks)": lambda n: [("POST", "/api/forecast", {"content": co2_bytes})] * 2,
            }
            rows = []
            for name, requests_of in phases.items():
                first = _percentiles(asyncio.run(_phase(port, args.clients, requests_of))[1])[1]  # a cold server
                seconds, times, statuses = asyncio.run(_phase(port, args.clients, requests_of))
                p50, p99 = _percentiles(times)
                rows.append((name, len(times), len(times) / seconds, p50, p99, first, sum(s != 200 for s in statuses)))
            csv = _large_csv()
            seconds, info_times, status = asyncio.run(_info_during_upload(base, csv))
        finally:
            server.terminate()
            server.wait(30)
    print(f"\n{args.clients} clients at once, on {os.cpu_count()} cores (client and server together)\n")
    print("| endpoint | requests | requests/s | p50, ms | p99, ms | p99 of the first pass, ms | not 200 |")
    print("|---|---|---|---|---|---|---|")
    for name, count, rate, p50, p99, first, bad in rows:
        print(f"| {name} | {count} | {rate:.0f} | {p50:.1f} | {p99:.1f} | {first:.1f} | {bad} |")
    p50, p99 = _percentiles(info_times)
    print(f"\nA {len(csv) / 1e6:.1f} MB CSV forecast in {seconds:.1f} s (status {status}); meanwhile /api/info answered "
          f"{len(info_times)} times: p50 {p50:.1f} ms, p99 {p99:.1f} ms, slowest {max(info_times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
