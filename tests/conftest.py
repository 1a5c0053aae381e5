"""Shared fixtures: a virtual-time loop for the runner's tests, and a real PostgreSQL
server for the store's scale-out tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from simulator.loop import VirtualTimeLoop
from tests.pg_server import SKIP_ENV, URL_ENV, PgUnavailableError, throwaway_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL superuser URL for the session; fails (never skips) if no server can
    be started, unless DIALER_TEST_PG=skip says so (local development)."""
    if os.environ.get(SKIP_ENV) == "skip":
        pytest.skip(f"{SKIP_ENV}=skip: PostgreSQL tests skipped")
    given = os.environ.get(URL_ENV)
    if given:
        yield given
        return
    try:
        with throwaway_server() as url:
            yield url
    except PgUnavailableError as exc:
        pytest.fail(f"cannot start PostgreSQL for the tests: {exc}", pytrace=False)


async def _admin(server: str, sql: str) -> None:
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server, f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    yield url
    asyncio.run(_admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def loop() -> Iterator[VirtualTimeLoop]:
    """A fresh virtual-time loop, closed after the test."""
    lp = VirtualTimeLoop()
    try:
        yield lp
    finally:
        lp.close()
