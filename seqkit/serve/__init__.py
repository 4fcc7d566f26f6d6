"""`seqkit serve`: the phone keyboard on a local web page, and the JSON API the page uses.

    app = create_app(NextWordTask.from_checkpoint("runs/next_word/lstm"))   # a FastAPI app
    uvicorn.run(app, host="127.0.0.1", port=8000)

The page (`static/`: HTML, JavaScript and CSS, nothing from the network) asks the API after
every keystroke and draws what comes back:

    GET /api/suggest?text=and%20god&k=3
        {"suggestions": [{"word": "said", "prob": 0.31}, ...], "prefix": ""}
        Text that ends mid-word gets the completions of that word ("prefix": "sa").
    GET /api/trace?text=and%20god%20said&last=12
        {"words": [...], "cell": "LSTM", "parts": {"h": [[...], ...], "c": ..., "i": ..., "f": ..., "o": ...}}
        The last layer's state and gates after each of the last words: one row per word.
    GET /api/sentiment?text=...      (with --sentiment) the label probabilities after each word
    POST /api/forecast               (with --forecast) a CSV in, the forecast and its quantiles out

A bad request (k <= 0, k above the words the model can suggest, a text over `MAX_TEXT`
characters, a missing parameter) gets a 4xx with `{"error": "one line"}`, never a 500.
"""


import tempfile
import threading
from importlib import resources
from pathlib import Path

import torch

from seqkit.errors import SeqkitError
from seqkit.tasks.suggester import Suggester
from seqkit.text import get_tokenizer

MAX_TEXT = 2000  # characters of text a request may carry
MAX_UPLOAD = 5_000_000  # bytes of a CSV to forecast


def require_serve_extra(server: bool = False):
    """`(fastapi, responses, staticfiles)`, and uvicorn when `server`; refused in one line without the extra."""
    try:
        import fastapi
        from fastapi import responses, staticfiles

        if server:
            import uvicorn  # noqa: F401
    except ImportError:
        raise SeqkitError('seqkit serve needs FastAPI and uvicorn: pip install "seqkit[serve]"') from None
    return fastapi, responses, staticfiles


@torch.no_grad()
def trace_words(task, text: str, last: int = 12) -> dict:
    """The last layer's state (and an LSTM's gates and cell) after each of the last `last` words of `text`."""
    words = get_tokenizer(task.tokenizer_name)(text)
    if not words:
        return {"words": [], "cell": type(task.encoder).__name__, "parts": {}}
    encoder, layer = task.encoder, task.encoder.num_layers - 1
    ids = torch.tensor([task.vocab.lookup_indices(words)], device=task.device)
    x = task.model.embedding(ids)                                                     # (1, T, E)
    parts: dict[str, list] = {}

    def observe(at_layer: int, direction: int, t: int, state, internals) -> None:
        if at_layer != layer or direction != 0:
            return
        shown = {"h": state[0]}
        if len(state) > 1:  # the LSTM: its cell and its input, forget and output gates
            shown.update(c=state[1], i=internals["i"], f=internals["f"], o=internals["o"])
        for name, value in shown.items():
            parts.setdefault(name, []).append([round(v, 4) for v in value[0].tolist()])

    encoder.run_observed(x, observe=observe)
    return {"words": words[-last:], "cell": type(encoder).__name__,
            "parts": {name: rows[-last:] for name, rows in parts.items()}}


def create_app(language_model, sentiment=None, forecaster=None):
    """The FastAPI app of `seqkit serve`: the page, its files, and the API (see the module's docstring).

    Args:
        language_model: a forward `NextWordTask` (the keyboard).
        sentiment: a `SentimentTask` whose running label the page shows, or None.
        forecaster: a `ForecastTask` that the forecast page uses, or None.
    """
    fastapi, responses, staticfiles = require_serve_extra()
    suggester = Suggester(language_model)  # one carried state: the one person typing on this page
    typing = threading.Lock()  # requests run in a thread pool; keystrokes move the one state in turn
    app = fastapi.FastAPI(title="seqkit keyboard", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    static = resources.files("seqkit.serve") / "static"

    def refuse(status: int, message: str):
        return responses.JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(fastapi.exceptions.RequestValidationError)
    async def bad_request(request, error):  # a missing or malformed parameter: one line, not FastAPI's list
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "the request"
        return refuse(422, f"{where}: {first.get('msg', 'invalid')}")

    def check_text(text: str):
        if len(text) > MAX_TEXT:
            return refuse(413, f"text is {len(text)} characters; the limit is {MAX_TEXT}")
        return None

    @app.get("/", include_in_schema=False)
    def page():
        return responses.HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    @app.get("/api/info")
    def info() -> dict:
        """What this server holds: the model's cell and size, and the optional pages."""
        encoder = language_model.encoder
        return {"cell": type(encoder).__name__, "hidden_size": encoder.hidden_size, "num_layers": encoder.num_layers,
                "vocab_size": len(language_model.vocab), "sentiment": sentiment is not None,
                "labels": list(sentiment.labels) if sentiment is not None else [], "forecast": forecaster is not None}

    @app.get("/api/suggest")
    def suggest(text: str, k: int = 3):
        """The `k` most likely next words after `text`, or the completions of the word it ends in."""
        if (refused := check_text(text)) is not None:
            return refused
        try:
            with typing:
                found, prefix = suggester.follow(text, k)
        except SeqkitError as error:
            return refuse(400, str(error))
        return {"suggestions": [{"word": w, "prob": p} for w, p in found], "prefix": prefix}

    @app.get("/api/trace")
    def trace(text: str, last: int = 12):
        """The state after each of the last `last` words of `text` (and an LSTM's gates and cell)."""
        if (refused := check_text(text)) is not None:
            return refused
        if not 1 <= last <= 64:
            return refuse(400, f"last must be from 1 to 64, got {last}")
        return trace_words(language_model, text, last)

    @app.get("/api/sentiment")
    def running_sentiment(text: str):
        """The label probabilities of the text up to each of its words (with --sentiment)."""
        if sentiment is None:
            return refuse(404, "this server has no sentiment model: start it with --sentiment CKPT")
        if (refused := check_text(text)) is not None:
            return refused
        words = suggester.tokenize(text)[-40:]
        prefixes = [" ".join(words[: n + 1]) for n in range(len(words))]
        results = sentiment.predict(prefixes) if prefixes else []
        return {"words": words, "labels": list(sentiment.labels),
                "probabilities": [[r["probabilities"][label] for label in sentiment.labels] for r in results]}

    @app.post("/api/forecast")
    async def forecast(request: fastapi.Request):
        """A CSV of series in the request's body; the forecast after each series, quantiles included."""
        if forecaster is None:
            return refuse(404, "this server has no forecaster: start it with --forecast CKPT")
        body = await request.body()
        if not body:
            return refuse(400, "send the CSV of the series as the request's body")
        if len(body) > MAX_UPLOAD:
            return refuse(413, f"the CSV is {len(body)} bytes; the limit is {MAX_UPLOAD}")
        from seqkit.data.forecast import read_csv

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "upload.csv"
            path.write_bytes(body)
            try:
                table = read_csv(path)
                frame = forecaster.forecast(table)
            except (SeqkitError, ValueError) as error:
                return refuse(400, " ".join(str(error).replace(str(path), "the CSV").split()))
        state = forecaster.data_state
        history = table.frame
        key = state.get("id_column")
        if key is not None:  # the page draws the first series
            first = history[key].iloc[0]
            history, frame = history[history[key] == first], frame[frame[key].astype(str) == str(first)]
        history = history[[state["time_column"], *state["target_columns"]]].tail(4 * len(frame))
        return {"time_column": state["time_column"], "targets": list(state["target_columns"]),
                "history": history.astype(str).to_dict(orient="list"),
                "forecast": frame.astype(str).to_dict(orient="list")}

    app.mount("/static", staticfiles.StaticFiles(directory=str(static)), name="static")
    return app
