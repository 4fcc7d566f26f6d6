"""`seqkit serve`: the JSON API the keyboard page uses, through FastAPI's test client (no browser, no socket)."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="seqkit serve needs the serve extra (fastapi, uvicorn)")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from seqkit.cli import main  # noqa: E402
from seqkit.serve import MAX_TEXT, create_app  # noqa: E402
from seqkit.tasks import ForecastTask, NextWordTask, SentimentTask  # noqa: E402
from seqkit.tasks.suggester import Suggester  # noqa: E402


@pytest.fixture(scope="module")
def models(language_model, forecaster, tiny_sentiment, tmp_path_factory):
    lm = NextWordTask.from_checkpoint(language_model)
    sentiment = SentimentTask.from_checkpoint(tiny_sentiment(tmp_path_factory.mktemp("sentiment")))
    return lm, sentiment, ForecastTask.from_checkpoint(forecaster)


@pytest.fixture(scope="module")
def client(models):
    return TestClient(create_app(*models), base_url="http://127.0.0.1")


def test_suggest_gives_what_predict_next_gives(client, models):
    answer = client.get("/api/suggest", params={"text": "and god ", "k": 3}).json()
    hidden = tuple(models[0].vocab.lookup_tokens(Suggester(models[0]).hidden))  # specials and punctuation
    assert {"<unk>", "<eos>", ","} <= set(hidden)
    want = models[0].predict_next("and god", k=3, exclude=hidden)
    assert [s["word"] for s in answer["suggestions"]] == [w for w, _ in want] and answer["prefix"] == ""
    assert [s["prob"] for s in answer["suggestions"]] == pytest.approx([p for _, p in want], abs=1e-6)


def test_text_that_ends_mid_word_gets_the_completions_of_that_word(client, models):
    answer = client.get("/api/suggest", params={"text": "and god s", "k": 3}).json()
    want = Suggester(models[0]).feed("and god").complete("s", 3)
    assert answer["prefix"] == "s" and [s["word"] for s in answer["suggestions"]] == [w for w, _ in want]
    assert all(s["word"].startswith("s") for s in answer["suggestions"])


def test_trace_gives_the_state_and_an_lstms_gates_after_each_of_the_last_words(client, models):
    answer = client.get("/api/trace", params={"text": "and god said let there be light", "last": 4}).json()
    hidden = models[0].encoder.hidden_size
    assert answer["words"] == ["let", "there", "be", "light"]
    assert answer["cell"] == "LSTM" and set(answer["parts"]) == {"h", "c", "i", "f", "o"}
    for rows in answer["parts"].values():
        assert len(rows) == len(answer["words"]) == 4 and all(len(row) == hidden for row in rows)
    assert all(0 <= v <= 1 for row in answer["parts"]["f"] for v in row)  # a gate is a sigmoid


def test_sentiment_and_forecast_answer_when_their_models_are_given(client, models, forecaster):
    answer = client.get("/api/sentiment", params={"text": "a good film"}).json()
    assert answer["words"] == ["a", "good", "film"] and len(answer["probabilities"]) == 3
    assert all(sum(row) == pytest.approx(1.0) for row in answer["probabilities"])
    from seqkit import packaged

    csv = packaged.sample("co2_weekly.csv").read_bytes()
    answer = client.post("/api/forecast", content=csv).json()
    assert answer["targets"] == ["co2"] and len(answer["forecast"]["co2"]) == models[2].shapes["horizon"]
    assert {"co2_q10", "co2_q90"} <= set(answer["forecast"])
    assert client.post("/api/forecast", content=b"not,a\ncsv").status_code == 400
    utf16 = client.post("/api/forecast", content=csv.decode("utf-8").encode("utf-16"))  # with its byte order mark
    assert utf16.status_code == 200 and utf16.json()["forecast"] == answer["forecast"]
    binary = client.post("/api/forecast", content=bytes(range(1, 256)) * 40)
    assert binary.status_code == 400 and "is binary data" in binary.json()["error"]


@pytest.mark.parametrize("params, status, said", [
    ({"text": "and", "k": 0}, 400, "k must be a whole number from 1"),
    ({"text": "and", "k": 10**6}, 400, "k must be a whole number from 1"),
    ({"text": "and", "k": "three"}, 422, "k: "),
    ({}, 422, "text: "),
    ({"text": "x" * (MAX_TEXT + 1)}, 413, f"the limit is {MAX_TEXT}"),
])
def test_bad_requests_get_a_4xx_and_one_line_of_json(client, params, status, said):
    response = client.get("/api/suggest", params=params)
    assert response.status_code == status
    error = response.json()["error"]
    assert said in error and "\n" not in error


def test_the_page_and_its_files_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/keyboard.js" in page.text and "http" not in page.text.lower()
    for name in ("keyboard.js", "style.css"):
        body = client.get(f"/static/{name}").text
        assert client.get(f"/static/{name}").status_code == 200 and "https://" not in body and "http://" not in body
    assert client.get("/api/openapi.json").json()["paths"].keys() >= {"/api/suggest", "/api/trace"}
    docs = client.get("/api/docs")  # written from the schema, with no script from anywhere
    assert docs.status_code == 200 and "GET /api/suggest" in docs.text and "<script" not in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text


def test_a_server_without_the_optional_models_says_so(models):
    plain = TestClient(create_app(models[0]), base_url="http://localhost:8000")
    assert plain.get("/api/info").json()["sentiment"] is False
    response = plain.get("/api/sentiment", params={"text": "good"})
    assert response.status_code == 404 and "--sentiment CKPT" in response.json()["error"]


def test_seqkit_serve_refuses_a_bad_port_in_one_line(language_model, capsys):
    assert main(["serve", "--ckpt_path", str(language_model), "--port", "70000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--port must be from 1 to 65535" in err


def test_seqkit_serve_says_in_one_line_that_its_port_is_taken(language_model, capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--ckpt_path", str(language_model), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"cannot listen on 127.0.0.1:{port}" in err and "choose another --port" in err


def test_seqkit_serve_listens_on_this_machine_only_by_default_and_names_its_extra_when_missing(monkeypatch):
    import sys

    from seqkit.commands.serve import build_parser
    from seqkit.errors import SeqkitError
    from seqkit.serve import require_serve_extra

    assert build_parser().parse_args(["--ckpt_path", "run"]).host == "127.0.0.1"
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the serve extra were not installed
    with pytest.raises(SeqkitError, match=r'pip install "seqkit\[serve\]"'):
        require_serve_extra(server=True)
    require_serve_extra()  # the app alone needs FastAPI only


# ----------------------------------------------------------------------------- one client cannot stall the others
def test_only_the_hosts_the_server_was_started_for_are_answered(models):
    app = create_app(models[0])
    for host, status in [("127.0.0.1:8000", 200), ("localhost", 200), ("[::1]:8000", 200), ("evil.example", 400),
                         ("127.0.0.1.evil.example", 400)]:
        assert TestClient(app).get("/api/info", headers={"host": host}).status_code == status, host
    named = TestClient(create_app(models[0], allowed_hosts=["keyboard.lan"]), base_url="http://keyboard.lan")
    assert named.get("/api/info").status_code == 200


def _asgi_post(app, path: str, headers: list, chunks: list[bytes]) -> tuple[int, int]:
    """POST `chunks` to `app` as a client streaming them; `(status, chunks the app read)`."""
    import asyncio

    read, sent = [0], []

    async def receive():
        if read[0] < len(chunks):
            read[0] += 1
            return {"type": "http.request", "body": chunks[read[0] - 1], "more_body": read[0] < len(chunks)}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"127.0.0.1"), *headers], "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "root_path": ""}
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), read[0]


def test_an_upload_over_the_limit_is_refused_before_it_is_read(models):
    from seqkit.serve import MAX_UPLOAD

    app = create_app(models[0], forecaster=models[2])
    declared = [(b"content-length", str(600_000_000).encode())]
    assert _asgi_post(app, "/api/forecast", declared, [b"x" * 65536] * 100) == (413, 0)
    # No length declared (chunked): read only up to the limit, not to the end.
    chunks = [b"x" * 65536] * (MAX_UPLOAD // 65536 + 50)
    status, read = _asgi_post(app, "/api/forecast", [], chunks)
    assert status == 413 and read == MAX_UPLOAD // 65536 + 1 < len(chunks)


def test_model_work_runs_off_the_event_loop_and_a_full_queue_answers_503(models, monkeypatch):
    import asyncio
    import threading

    import httpx

    started, release = threading.Event(), threading.Event()

    def slow_forecast(table, horizon=None):  # a forecast that takes as long as the test wants
        started.set()
        release.wait(30)
        raise ValueError("released")

    monkeypatch.setattr(models[2], "forecast", slow_forecast)
    app = create_app(models[0], forecaster=models[2], workers=1, queue=0)
    csv = b"date,co2\n2020-01-05,410\n"

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            upload = asyncio.create_task(client.post("/api/forecast", content=csv))
            await asyncio.get_running_loop().run_in_executor(None, started.wait, 30)
            info = await client.get("/api/info")  # answered while the forecast still runs
            crowded = await client.post("/api/forecast", content=csv)  # the one worker is busy, no queue
            still_running = not upload.done()
            release.set()
            return info, crowded, still_running, await upload

    info, crowded, still_running, upload = asyncio.run(scenario())
    assert info.status_code == 200 and still_running
    assert crowded.status_code == 503 and crowded.headers["retry-after"] == "1" and "busy" in crowded.json()["error"]
    assert upload.status_code == 400 and upload.json()["error"] == "released"


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_a_connection_that_sends_no_request_is_closed(models, parser, monkeypatch):
    import socket
    import threading
    import time

    import uvicorn

    from seqkit.serve import protocol

    if parser == "h11":  # as where httptools is not installed
        monkeypatch.setitem(__import__("sys").modules, "httptools", None)
    else:
        pytest.importorskip("httptools")
    assert protocol().__mro__[1].__module__.endswith(f"{parser}_impl")
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(models[0]), host="127.0.0.1", port=port, log_level="warning",
                                           http=protocol(idle_seconds=0.5)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        silent, partial = socket.create_connection(("127.0.0.1", port)), socket.create_connection(("127.0.0.1", port))
        partial.sendall(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # a head that never ends
        for connection in (silent, partial):
            connection.settimeout(10)
            assert connection.recv(1024) == b""  # closed by the server, not by the timeout here
            connection.close()
        with socket.create_connection(("127.0.0.1", port)) as talking:  # a whole request is answered
            talking.sendall(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            talking.settimeout(10)
            assert talking.recv(1024).startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_keyboard_goes_on_from_each_clients_own_text(models):
    suggester = Suggester(models[0])
    first, _ = suggester.follow("and god said ")
    suggester.follow("in the beginning ")  # another client, between two keystrokes of the first
    steps = []
    original = suggester._step
    suggester._step = lambda ids: (steps.append(len(ids)), original(ids))
    again, _ = suggester.follow("and god said unto ")
    assert steps == [1] and first  # one new word read, from the first text's state, not the whole text
    fresh = Suggester(models[0])
    assert again == fresh.follow("and god said unto ")[0]


def test_seqkit_serve_answers_the_hosts_it_is_given_and_closes_silent_connections(language_model, monkeypatch, capsys):
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(app=app, **kwargs))
    assert main(["serve", "--ckpt_path", str(language_model), "--port", "8798", "--host", "0.0.0.0",
                 "--allowed_hosts", "keyboard.lan, 192.168.1.20"]) == 0
    assert "answering only requests to 127.0.0.1 or localhost" not in capsys.readouterr().out  # names were given
    assert served["http"].__name__ == "Protocol" and served["host"] == "0.0.0.0"  # the idle-closing protocol
    for host, status in [("keyboard.lan", 200), ("192.168.1.20:8798", 200), ("localhost:8798", 200),
                         ("0.0.0.0", 400), ("evil.example", 400)]:
        assert TestClient(served["app"]).get("/api/info", headers={"host": host}).status_code == status, host
    assert main(["serve", "--ckpt_path", str(language_model), "--port", "8798", "--host", "0.0.0.0"]) == 0
    assert "name this machine's other names with --allowed_hosts" in capsys.readouterr().out
