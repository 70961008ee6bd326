"""Run the reference journal receiver: `python -m clients.journal_receiver --help`."""

from __future__ import annotations

import argparse
import logging
import os
import ssl
import sys
from pathlib import Path

from aiohttp import web

from clients.journal_receiver.app import Journal, make_app

SECRETS_VARIABLE = "JOURNAL_RECEIVER_SECRETS"


def _secrets(path: Path | None) -> list[str]:
    """From a file (one per line) or the environment (space-separated): never from the
    command line, which other users of the machine can read."""
    text = path.read_text() if path is not None else os.environ.get(SECRETS_VARIABLE, "")
    return [s for s in text.split() if s]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m clients.journal_receiver",
                                     description="A reference receiver of the hub's "
                                     "journal hooks (Standard Webhooks).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--path", default="/hooks", help="where deliveries are POSTed")
    parser.add_argument("--database", type=Path, default=Path("journal.sqlite"))
    parser.add_argument("--secrets-file", type=Path,
                        help=f"the endpoint's whsec_ secrets, one per line (else "
                             f"${SECRETS_VARIABLE}, space-separated)")
    parser.add_argument("--cert", type=Path, help="TLS certificate chain (PEM)")
    parser.add_argument("--key", type=Path, help="TLS private key (PEM)")
    args = parser.parse_args(argv)
    secrets = _secrets(args.secrets_file)
    if not secrets:
        sys.exit(f"no secret: give --secrets-file or set {SECRETS_VARIABLE}")
    context = None
    if args.cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    journal = Journal(args.database)
    try:
        web.run_app(make_app(secrets, journal, args.path), host=args.host, port=args.port,
                    ssl_context=context, access_log=None)
    finally:
        journal.close()


if __name__ == "__main__":
    main()
