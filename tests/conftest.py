"""Test databases: one embedded PostgreSQL per test run, a fresh database per test.

The schema is migrated once into a template database; each test gets a copy
(CREATE DATABASE … TEMPLATE), which takes tens of milliseconds.  Set
CALLCENTER_TEST_DSN to use an existing server instead of the embedded one.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from pathlib import Path

import asyncpg
import pytest

from callcenter.config import Settings
from callcenter.db.database import Database, _init_connection
from callcenter.db.embedded import start_embedded, with_database
from callcenter.db.migrations import migrate
from tests.real_asterisk import RealAsterisk, missing_reason

TEMPLATE = "cc_test_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> str:
    """DSN of the server's maintenance database."""
    dsn = os.environ.get("CALLCENTER_TEST_DSN")
    if dsn:
        return dsn
    return start_embedded(tmp_path_factory.mktemp("pg") / "pgdata")


@pytest.fixture(scope="session")
def template_dsn(pg_server) -> str:
    async def build() -> None:
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            await conn.execute(f"CREATE DATABASE {TEMPLATE}")
        finally:
            await conn.close()
        conn = await asyncpg.connect(with_database(pg_server, TEMPLATE))
        try:
            await migrate(conn)
        finally:
            await conn.close()
    asyncio.run(build())
    return with_database(pg_server, TEMPLATE)


@pytest.fixture
async def db_dsn(pg_server, template_dsn) -> str:
    """A fresh, migrated database for one test; dropped afterwards."""
    name = f"cc_test_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(pg_server)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await admin.close()
    yield with_database(pg_server, name)
    admin = await asyncpg.connect(pg_server)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def db(db_dsn) -> Database:
    pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=5, init=_init_connection)
    database = Database(pool=pool, dsn=db_dsn, embedded=True)
    yield database
    await pool.close()


@pytest.fixture
def settings(db_dsn, tmp_path) -> Settings:
    """Settings pointing at this test's database, with a private home directory."""
    return Settings(dsn=db_dsn, home=tmp_path / "home")


FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def transcripts_dir() -> Path:
    """Wire transcripts from a real Asterisk 22 (a copy of ../shared/asterisk, kept with the tests)."""
    return FIXTURES / "asterisk"


@pytest.fixture(scope="module")
def real_asterisk(tmp_path_factory) -> RealAsterisk:
    """The real Asterisk 22 with the project's dialplan and the test citizens: one per test module."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    pbx = RealAsterisk(tmp_path_factory.mktemp("asterisk")).start()
    yield pbx
    pbx.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing real-PBX test keeps the PBX's log beside its files and shows its tail."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, RealAsterisk):
            kept = value.keep_log(item.funcargs["tmp_path"]) if "tmp_path" in item.funcargs else value.logdir
            report.sections.append(("Asterisk log", f"kept at {kept}\n{value.log_tail()}"))
