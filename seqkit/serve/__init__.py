"""`seqkit serve`: the phone keyboard on a local web page, and the JSON API the page uses.

    app = create_app(NextWordTask.from_checkpoint("runs/next_word/lstm"))   # a FastAPI app
    uvicorn.run(app, host="127.0.0.1", port=8000, http=protocol())

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
    GET /api/docs                    these endpoints, from the API's OpenAPI schema (no script)

A bad request (k <= 0, k above the words the model can suggest, a text over `MAX_TEXT`
characters, a missing parameter) gets a 4xx with `{"error": "one line"}`, never a 500.

What keeps one client from stalling the others: the event loop only moves bytes. Model and
file work runs on threads (`Workers`: as many as the machine has cores for the trace,
sentiment and forecast; one for the keyboard, whose carried state moves in turn), and a
request that would wait behind more than `QUEUE` others gets 503 with `Retry-After`. An
upload is refused by its declared length before it is read, and read no further than
`MAX_UPLOAD` bytes when it declares none. Only the hosts the server was started for are
answered (a page on another site that points its own name at 127.0.0.1 cannot read the
API), and a connection that sends no request within `IDLE_SECONDS` is closed (`protocol`).
"""


import asyncio
import html
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import torch

from seqkit.errors import SeqkitError
from seqkit.modules.checks import machine_cores
from seqkit.tasks.suggester import Suggester
from seqkit.text import get_tokenizer

MAX_TEXT = 2000  # characters of text a request may carry
MAX_UPLOAD = 5_000_000  # bytes of a CSV to forecast
QUEUE = 64  # requests that may wait for a worker before the server answers 503
IDLE_SECONDS = 10  # a connection that has sent no request by then is closed
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CANDIDATES = ("g", "n", "h")  # the names the standard cells give the candidate values among their gate blocks


class Busy(Exception):
    """More requests wait for a worker than the queue holds: answered 503, try again shortly."""


class Workers:
    """Threads that do a server's model and file work, so that its event loop stays free to answer.

    Args:
        threads: how many run at once.
        queue: how many more may wait; a request beyond them raises `Busy` at once.
    """

    def __init__(self, threads: int, queue: int = QUEUE) -> None:
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="seqkit-serve")
        self.limit, self.taken = threads + queue, 0  # counted on the event loop's thread only

    async def run(self, work, *args):
        """`work(*args)` on a worker thread; raises `Busy` when too many wait already."""
        if self.taken >= self.limit:
            raise Busy()
        self.taken += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, work, *args)
        finally:
            self.taken -= 1


def protocol(idle_seconds: float = IDLE_SECONDS):
    """uvicorn's HTTP protocol, closing a connection that has not sent a whole request's head in `idle_seconds`.

    uvicorn closes a connection left idle after a response (`timeout_keep_alive`), but not one
    that never finishes its first request: without this, a client could hold sockets open forever.
    uvicorn's faster parser (httptools) where it is installed, else h11.
    """
    try:
        import httptools  # noqa: F401
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base

    class Protocol(Base):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self.loop.call_later(idle_seconds, self._close_if_idle)

        def _close_if_idle(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

    return Protocol


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
        shown = dict(zip(("h", "c"), state))  # the hidden state, and an LSTM's cell
        # The cell's gates (an LSTM's input, forget and output gates), not its candidate values.
        shown.update((name, internals[name]) for name in encoder.gate_names or () if name in internals and name not in CANDIDATES)
        for name, value in shown.items():
            parts.setdefault(name, []).append([round(v, 4) for v in value[0].tolist()])

    encoder.run_observed(x, observe=observe)
    return {"words": words[-last:], "cell": type(encoder).__name__,
            "parts": {name: rows[-last:] for name, rows in parts.items()}}


def create_app(language_model, sentiment=None, forecaster=None, allowed_hosts=LOCAL_HOSTS, workers: int | None = None,
               queue: int = QUEUE):
    """The FastAPI app of `seqkit serve`: the page, its files, and the API (see the module's docstring).

    Args:
        language_model: a forward `NextWordTask` (the keyboard).
        sentiment: a `SentimentTask` whose running label the page shows, or None.
        forecaster: a `ForecastTask` that the forecast page uses, or None.
        allowed_hosts: the names of this server that requests may give as their `Host` (a
            port after them is allowed); others get 400.
        workers: threads for the trace, sentiment and forecast work (default: the cores).
        queue: requests that may wait for a thread (of the keyboard's, or of the others') before 503.
    """
    fastapi, responses, staticfiles = require_serve_extra()
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    suggester = Suggester(language_model)  # one carried state: the one person typing on this page
    keyboard, work = Workers(1, queue), Workers(workers or machine_cores(), queue)  # the keyboard's state moves in turn, on its thread
    app = fastapi.FastAPI(title="seqkit keyboard", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=[f"[{h}]" if ":" in h else h for h in allowed_hosts])
    static = resources.files("seqkit.serve") / "static"

    def refuse(status: int, message: str, **headers: str):
        return responses.JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(fastapi.exceptions.RequestValidationError)
    async def bad_request(request, error):  # a missing or malformed parameter: one line, not FastAPI's list
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "the request"
        return refuse(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(Busy)
    async def busy(request, error):
        return refuse(503, "the server is busy; try again in a second", **{"Retry-After": "1"})

    def check_text(text: str):
        if len(text) > MAX_TEXT:
            return refuse(413, f"text is {len(text)} characters; the limit is {MAX_TEXT}")
        return None

    @app.get("/", include_in_schema=False)
    async def page():
        return responses.HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    @app.get("/api/docs", include_in_schema=False)
    async def docs():
        return responses.HTMLResponse(api_page(app.openapi()))

    @app.get("/api/info")
    async def info() -> dict:
        """What this server holds: the model's cell and size, and the optional pages."""
        encoder = language_model.encoder
        return {"cell": type(encoder).__name__, "hidden_size": encoder.hidden_size, "num_layers": encoder.num_layers,
                "vocab_size": len(language_model.vocab), "sentiment": sentiment is not None,
                "labels": list(sentiment.labels) if sentiment is not None else [], "forecast": forecaster is not None}

    @app.get("/api/suggest")
    async def suggest(text: str, k: int = 3):
        """The `k` most likely next words after `text`, or the completions of the word it ends in."""
        if (refused := check_text(text)) is not None:
            return refused
        try:
            found, prefix = await keyboard.run(suggester.follow, text, k)
        except SeqkitError as error:
            return refuse(400, str(error))
        return responses.JSONResponse({"suggestions": [{"word": w, "prob": p} for w, p in found], "prefix": prefix})

    @app.get("/api/trace")
    async def trace(text: str, last: int = 12):
        """The state after each of the last `last` words of `text` (and an LSTM's gates and cell)."""
        if (refused := check_text(text)) is not None:
            return refused
        if not 1 <= last <= 64:
            return refuse(400, f"last must be from 1 to 64, got {last}")
        return responses.JSONResponse(await work.run(trace_words, language_model, text, last))  # as it is: no re-encoding

    @app.get("/api/sentiment")
    async def running_sentiment(text: str):
        """The label probabilities of the text up to each of its words (with --sentiment)."""
        if sentiment is None:
            return refuse(404, "this server has no sentiment model: start it with --sentiment CKPT")
        if (refused := check_text(text)) is not None:
            return refused
        return responses.JSONResponse(await work.run(sentiment_words, sentiment, suggester.tokenize(text)[-40:]))

    @app.post("/api/forecast")
    async def forecast(request: fastapi.Request):
        """A CSV of series in the request's body; the forecast after each series, quantiles included."""
        if forecaster is None:
            return refuse(404, "this server has no forecaster: start it with --forecast CKPT")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_UPLOAD:  # refused before a byte of it is read
            return refuse(413, f"the CSV is {int(declared)} bytes; the limit is {MAX_UPLOAD}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD:
                return refuse(413, f"the CSV is over {MAX_UPLOAD} bytes, the limit")
        if not body:
            return refuse(400, "send the CSV of the series as the request's body")
        try:
            return responses.JSONResponse(await work.run(forecast_upload, forecaster, bytes(body)))
        except (SeqkitError, ValueError) as error:
            return refuse(400, str(error))

    app.mount("/static", staticfiles.StaticFiles(directory=str(static)), name="static")
    return app


def sentiment_words(sentiment, words: list[str]) -> dict:
    """The label probabilities of the text up to each of `words`."""
    prefixes = [" ".join(words[: n + 1]) for n in range(len(words))]
    results = sentiment.predict(prefixes) if prefixes else []
    return {"words": words, "labels": list(sentiment.labels),
            "probabilities": [[r["probabilities"][label] for label in sentiment.labels] for r in results]}


def forecast_upload(forecaster, body: bytes) -> dict:
    """The forecast after each series of an uploaded CSV, and the last stretch of the first series' history."""
    from seqkit.data.forecast import read_csv

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(body)
        try:
            table = read_csv(path)
            frame = forecaster.forecast(table)
        except (SeqkitError, ValueError) as error:
            raise SeqkitError(" ".join(str(error).replace(str(path), "the CSV").split())) from None
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


def api_page(schema: dict) -> str:
    """The API's endpoints as a page of plain HTML, from its OpenAPI schema: nothing loaded from elsewhere."""
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            parameters = "".join(
                f"<li><code>{html.escape(p['name'])}</code> ({html.escape(p.get('schema', {}).get('type', ''))}"
                f"{', required' if p.get('required') else ', default ' + html.escape(str(p.get('schema', {}).get('default')))})</li>"
                for p in operation.get("parameters", []))
            rows.append(f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>"
                        f"<p>{html.escape(operation.get('description') or operation.get('summary', ''))}</p>"
                        + (f"<ul>{parameters}</ul>" if parameters else ""))
    title = html.escape(schema.get("info", {}).get("title", "API"))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<link rel='stylesheet' href='/static/style.css'></head><body><main><h1>{title}: the API</h1>"
            f"<p>The schema: <a href='/api/openapi.json'>/api/openapi.json</a>.</p>{''.join(rows)}</main></body></html>")
