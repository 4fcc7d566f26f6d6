"""`seqkit serve`: the phone keyboard on a local web page (and its JSON API), from a next-word checkpoint.

    seqkit serve --ckpt_path runs/next_word/lstm              # then open http://127.0.0.1:8000
    seqkit serve --ckpt_path LM --sentiment SENTIMENT_CKPT --forecast FORECAST_CKPT
"""

from __future__ import annotations

import argparse

from seqkit.commands import add_checkpoint, checkpoint_file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit serve", description="A local web page where next-word suggestions "
                                     "follow your typing and the hidden state of each word is drawn; the JSON API it "
                                     "uses is at /api (documented at /api/docs). Needs the serve extra: "
                                     'pip install "seqkit[serve]".')
    add_checkpoint(parser, "next_word (forward)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this "
                        "machine only)")
    parser.add_argument("--port", type=int, default=8000, help="the port (default 8000)")
    parser.add_argument("--allowed_hosts", default="", metavar="NAMES",
                        help="comma-separated names by which clients reach this server, beside 127.0.0.1, localhost "
                        "and --host itself; a request naming another host in its Host header gets 400 (this stops "
                        "a web page on another site from reading the API through a DNS name pointed at this machine)")
    parser.add_argument("--sentiment", help="a sentiment checkpoint: the page shows the text's sentiment word by word")
    parser.add_argument("--forecast", help="a forecasting checkpoint: a second page forecasts an uploaded CSV")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from seqkit.errors import SeqkitError
    from seqkit.serve import LOCAL_HOSTS, create_app, protocol, require_serve_extra
    from seqkit.tasks import ForecastTask, NextWordTask, SentimentTask
    from seqkit.training import checkpoints

    require_serve_extra(server=True)  # before any checkpoint is read
    import uvicorn
    if not 0 < args.port < 65536:
        raise SeqkitError(f"--port must be from 1 to 65535, got {args.port}")
    import socket

    try:  # a port in use is said in one line here, not in a server's traceback
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as error:
        raise SeqkitError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}; choose another "
                          "--port (or --host)") from None
    language_model = NextWordTask.from_checkpoint(checkpoint_file(args))
    sentiment = SentimentTask.from_checkpoint(checkpoints.resolve(args.sentiment)) if args.sentiment else None
    forecaster = ForecastTask.from_checkpoint(checkpoints.resolve(args.forecast)) if args.forecast else None
    named = [name.strip() for name in args.allowed_hosts.split(",") if name.strip()]
    hosts = [*LOCAL_HOSTS, *([args.host] if args.host not in ("0.0.0.0", "::") else []), *named]
    app = create_app(language_model, sentiment, forecaster, allowed_hosts=hosts)
    print(f"seqkit serve: the keyboard at http://{args.host}:{args.port}/ (the API at /api/docs); Ctrl-C stops it")
    if args.host in ("0.0.0.0", "::") and not named:
        print("seqkit serve: listening on every address, answering only requests to 127.0.0.1 or localhost; "
              "name this machine's other names with --allowed_hosts")
    import gc

    gc.collect()
    gc.freeze()  # the models' many objects stay out of every later collection: no pause of a second mid-request
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", http=protocol())
    return 0
