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
    return TestClient(create_app(*models))


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


def test_a_server_without_the_optional_models_says_so(models):
    plain = TestClient(create_app(models[0]))
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
