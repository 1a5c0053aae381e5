"""Engines and migrations: the one place that knows SQLite from PostgreSQL.

SQLite (the embedded default): WAL journal (readers never block the writer), a busy
timeout, foreign keys on, ``synchronous=NORMAL`` (durable across a process crash, which is
the crash model here: WAL + NORMAL loses nothing on ``kill -9``, only on power loss), and
every transaction opened with ``BEGIN IMMEDIATE``: SQLite has a single writer, and taking
the write lock at the start means a read-then-write transaction (the lead claim) can never
fail half-way with SQLITE_BUSY and never interleaves with another process's claim.

PostgreSQL: asyncpg, a small pool; claims use ``FOR UPDATE SKIP LOCKED`` (``supply.py``).

Migrations are Alembic scripts inside the package (``dialer/store/migrations``), run with
a programmatic config: no ``alembic.ini`` at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dialer.store.settings import StoreSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number: serialises concurrent `dialer db upgrade` runs on PostgreSQL.
_PG_MIGRATION_LOCK = 0x6469616C6572


def make_engine(settings: StoreSettings) -> AsyncEngine:
    """An async engine for ``settings.url``; a SQLite file's directory is created."""
    url = make_url(settings.url)
    if settings.is_sqlite:
        db = url.database
        if db and db != ":memory:":
            Path(db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": settings.busy_timeout})
        _sqlite_pragmas(engine, settings)
        return engine
    return create_async_engine(url, pool_size=settings.pool_size, pool_pre_ping=True)


def _sqlite_pragmas(engine: AsyncEngine, settings: StoreSettings) -> None:
    busy_ms = int(settings.busy_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level; transactions are begun explicitly below, so
        # that they can be IMMEDIATE (pysqlite's own BEGIN is always deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Bulk imports and claims over large portfolios: a 64 MB page cache (allocated
        # only as used) and temporary sort tables in memory.
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _upgrade_sync(conn: Connection, revision: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(conn), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to ``revision``; returns (revision before, revision after)."""
    async with engine.begin() as conn:
        before = await conn.run_sync(_current)
        await conn.run_sync(_upgrade_sync, revision)
        after = await conn.run_sync(_current)
    return before, after


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
