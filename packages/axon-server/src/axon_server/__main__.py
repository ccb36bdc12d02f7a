"""``python -m axon_server --model PATH [--model NAME=PATH ...] [--host H] [--port P]``: uvicorn
serving :func:`axon_server.create_app`. The bearer key is ``--api-key`` or ``AXON_API_KEY``; with
neither, a random key is made and printed to stderr."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

import uvicorn

from .app import create_app
from .config import ModelSpec, ServerConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axon_server", description="axon's OpenAI-compatible server.")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="a GGUF file (generation) or a BERT-family HF folder (embeddings); repeatable",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-key", default=None, help="the bearer key (default: AXON_API_KEY)")
    parser.add_argument("--slots", type=int, default=4, help="sequences decoded per step per model (4)")
    parser.add_argument("--max-queue", type=int, default=64, help="waiting requests before 429 (64)")
    parser.add_argument("--ctx", type=int, default=2048, help="KV-cache positions per slot (2048)")
    parser.add_argument("--threads", type=int, default=None, help="kernel threads (all CPUs)")
    parser.add_argument(
        "--data-dir", default=None, help="database and uploaded files (AXON_SERVER_DATA, else ./axon-server-data)"
    )
    parser.add_argument("--max-jobs", type=int, default=1, help="training jobs run at once (1)")
    parser.add_argument("--database-url", default=None, help="an SQLAlchemy URL instead of SQLite in --data-dir")
    args = parser.parse_args(argv)
    key = args.api_key or os.environ.get("AXON_API_KEY")
    if not key:
        key = secrets.token_urlsafe(32)
        print(f"axon-server: no AXON_API_KEY given; this run's key is {key}", file=sys.stderr, flush=True)
    for spec in args.model:
        if not os.path.exists(ModelSpec.parse(spec).path):
            parser.error(f"--model {spec}: no such file or folder")
    config = ServerConfig(
        models=tuple(ModelSpec.parse(m) for m in args.model),
        api_key=key,
        slots=args.slots,
        max_queue=args.max_queue,
        max_ctx=args.ctx,
        threads=args.threads,
        database_url=args.database_url,
        max_jobs=args.max_jobs,
        **({"data_dir": Path(args.data_dir)} if args.data_dir else {}),
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
