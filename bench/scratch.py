"""A database of its own for one benchmark run, so a bench never touches a real ledger.

On ``$CALLCENTER_DSN``'s server when that is set (created, then dropped unless
kept); otherwise in a private embedded PostgreSQL under a temporary directory
that goes away with the run.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from pathlib import Path
from typing import AsyncIterator

from callcenter.db.database import drop_database_on, ensure_database
from callcenter.db.embedded import start_embedded


@contextlib.asynccontextmanager
async def scratch_database(label: str, *, keep: bool = False) -> AsyncIterator[tuple[str, Path]]:
    """``(dsn, work_dir)`` for a fresh database named ``cc_bench_<label>_<random>``."""
    with tempfile.TemporaryDirectory(prefix=f"cc-bench-{label}-") as tmp:
        external = os.environ.get("CALLCENTER_DSN")
        server = external or start_embedded(Path(tmp) / "pgdata")
        name = f"cc_bench_{label}_{uuid.uuid4().hex[:8]}"
        dsn = await ensure_database(server, name)
        try:
            yield dsn, Path(tmp)
        finally:
            if keep and external:
                print(f"kept the scratch database: {dsn}")
            elif external:
                await drop_database_on(server, name)
