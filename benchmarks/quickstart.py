"""Every command of the README's quickstart, timed from a clean folder, in the README's order.

    python benchmarks/quickstart.py              # all of them (the next-word fit takes minutes)
    python benchmarks/quickstart.py --only sentiment

Reads the `seqkit ...` lines of the bash blocks under the README's "Quickstart" heading and
runs each in a new empty folder shared by the whole run (so that `generate` finds the run
`fit` made), offline, with no SEQKIT_DATA. `seqkit serve` runs until its API answers, then
is stopped: its time is the time to be ready. Prints a table of wall times and exit codes.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_commands() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Quickstart"):]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith("seqkit ")]


def serve_ready(argv: list[str], folder: Path, env: dict) -> tuple[float, int]:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    start = time.perf_counter()
    server = subprocess.Popen([*argv, "--port", str(port)], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        while server.poll() is None and time.perf_counter() - start < 300:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=2) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - start, 0
            except OSError:
                time.sleep(0.2)
        return time.perf_counter() - start, server.returncode if server.returncode is not None else -1
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the commands that hold this text (and what they need is up to you)")
    args = parser.parse_args()
    env = {**os.environ}
    env.pop("SEQKIT_DATA", None)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for command in quickstart_commands():
            if args.only and args.only not in command:
                continue
            argv = [sys.executable, "-m", "seqkit.cli", *shlex.split(command)[1:]]
            print(f"$ {command}", flush=True)
            if command.startswith("seqkit serve"):
                seconds, code = serve_ready(argv, folder, env)
            else:
                start = time.perf_counter()
                code = subprocess.run(argv, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
                seconds = time.perf_counter() - start
            rows.append((command, seconds, code))
    print("\n| command | wall time | exit |\n|---|---|---|")
    for command, seconds, code in rows:
        shown = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
        print(f"| `{command}` | {shown} | {code} |")


if __name__ == "__main__":
    main()
