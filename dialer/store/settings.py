"""Store settings: which database, and how to talk to it.

The URL may carry a password (PostgreSQL); it never appears in ``repr``, logs or error
messages: everything that shows the URL goes through ``safe_url`` (SQLAlchemy's
``render_as_string(hide_password=True)``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_URL = "sqlite+aiosqlite:///dialer.db"
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def normalise_url(url: str) -> str:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``, ``postgresql://`` -> asyncpg;
    a bare file path is taken as a SQLite file. Raises ValueError (password hidden)."""
    if "://" not in url:
        return f"sqlite+aiosqlite:///{url}"
    try:
        u = make_url(url)
    except ArgumentError:
        raise ValueError("url: not a database URL") from None
    backend = u.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(
            f"url: unsupported database {backend!r} in {u.render_as_string(hide_password=True)}"
            "; expected sqlite or postgresql"
        )
    if u.drivername != _DRIVERS[backend]:
        u = u.set(drivername=_DRIVERS[backend])
    return u.render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSettings:
    """``url``: SQLAlchemy URL (``sqlite+aiosqlite:///path.db`` or
    ``postgresql+asyncpg://user:pw@host:port/db``) or a bare SQLite file path.
    ``busy_timeout``: seconds a SQLite writer waits for the lock before failing.
    ``auto_migrate``: apply pending migrations when the store is opened.
    ``pool_size``: PostgreSQL connections kept open per process.
    ``lease_ttl``: seconds a campaign lease lasts without renewal (scale-out)."""

    url: str = field(default=DEFAULT_URL, repr=False)
    busy_timeout: float = 10.0
    auto_migrate: bool = True
    pool_size: int = 5
    lease_ttl: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", normalise_url(self.url))
        if self.busy_timeout < 0:
            raise ValueError("busy_timeout: must be >= 0 seconds")
        if self.pool_size < 1:
            raise ValueError("pool_size: must be >= 1")
        if self.lease_ttl <= 0:
            raise ValueError("lease_ttl: must be > 0 seconds")

    @property
    def safe_url(self) -> str:
        """The URL with its password masked: the only form that may be shown."""
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def __repr__(self) -> str:
        return (
            f"StoreSettings(url={self.safe_url!r}, busy_timeout={self.busy_timeout}, "
            f"auto_migrate={self.auto_migrate}, pool_size={self.pool_size}, "
            f"lease_ttl={self.lease_ttl})"
        )


DB_ENV = "DIALER_DB"


def settings_for(url: str | None = None, **kwargs: object) -> StoreSettings:
    """The settings the CLI uses: ``--db URL`` if given, else ``$DIALER_DB``, else the
    default file ``dialer.db`` in the working directory."""
    chosen = url or os.environ.get(DB_ENV) or DEFAULT_URL
    return StoreSettings(url=chosen, **kwargs)  # type: ignore[arg-type]
