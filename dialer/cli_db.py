"""``dialer db upgrade|current``: the store's schema migrations from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import make_url

from dialer.errors import DialerError
from dialer.store.engine import current_revision, head_revision, make_engine, upgrade
from dialer.store.settings import StoreSettings, settings_for
from dialer.store.store import Store

EXIT_USAGE = 2


def run_on_store(
    command: str, settings: StoreSettings, work: Callable[[Store], Awaitable[int]]
) -> int:
    """Open the store, run ``work`` (it prints its own output and returns the exit
    status), close the store. A refusal on the way (a ``DialerError``, a bad value, a
    file that cannot be read or written) is one line on stderr naming ``command`` and
    exit status 2, never a traceback."""

    async def run() -> int:
        async with await Store.open(settings) as store:
            return await work(store)

    try:
        return asyncio.run(run())
    except (DialerError, ValueError, OSError) as exc:
        print(f"dialer {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def add_db_argument(p: argparse.ArgumentParser) -> None:
    """``--db URL`` (shared by every store-backed command)."""
    p.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="database: a SQLite file path or sqlite+aiosqlite:///file.db or "
        "postgresql://user@host/db (default: $DIALER_DB, else ./dialer.db)",
    )


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database schema (migrations)")
    dsub = db.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser("upgrade", help="apply pending migrations (creates a new SQLite file)")
    add_db_argument(up)
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(handler=_upgrade)
    cur = dsub.add_parser("current", help="show the schema revision of the database")
    add_db_argument(cur)
    cur.set_defaults(handler=_current)


def _upgrade(args: argparse.Namespace) -> int:
    try:
        settings = settings_for(args.db, auto_migrate=False)
    except ValueError as exc:
        print(f"dialer db upgrade: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def run() -> tuple[str | None, str | None]:
        engine = make_engine(settings)
        try:
            return await upgrade(engine, args.revision)
        finally:
            await engine.dispose()

    try:
        before, after = asyncio.run(run())
    except Exception as exc:  # connection refused, bad revision...: say so, never the URL's pw
        print(
            f"dialer db upgrade: {settings.safe_url}: {type(exc).__name__}: "
            f"{_scrub(str(exc), settings.url)}",
            file=sys.stderr,
        )
        return 1
    if before == after:
        print(f"{settings.safe_url}: already at {after}")
    else:
        print(f"{settings.safe_url}: upgraded {before or '(empty)'} -> {after}")
    return 0


def _current(args: argparse.Namespace) -> int:
    try:
        settings = settings_for(args.db, auto_migrate=False)
    except ValueError as exc:
        print(f"dialer db current: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def run() -> str | None:
        engine = make_engine(settings)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    try:
        rev = asyncio.run(run())
    except Exception as exc:
        print(f"dialer db current: {settings.safe_url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    head = head_revision()
    state = "up to date" if rev == head else f"behind (head is {head})"
    print(f"{settings.safe_url}: {rev or '(empty)'}: {state}")
    return 0


def _scrub(text: str, url: str) -> str:
    """Remove the password from a driver's message, should it ever quote it."""
    pw = make_url(url).password
    return text.replace(pw, "***") if pw else text
