"""Column types that behave the same on SQLite and PostgreSQL.

- ``UtcDateTime``: every timestamp is stored as naive UTC and read back tz-aware (UTC).
  SQLite has no time zone type and asyncpg refuses to mix aware and naive values, so
  the one conversion happens here; the rest of the code only sees aware datetimes.
- ``Money``: ``NUMERIC(14, 2)``. PostgreSQL keeps exact decimals. SQLite has no decimal
  type: the value is bound as text (NUMERIC affinity stores it as a number) and read back
  as a ``Decimal`` quantized to cents, which is exact for amounts below 10^13 (a double
  holds 15 significant digits).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

CENT = Decimal("0.01")


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes tz-aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL paths on SQLite
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Money(TypeDecorator[Decimal]):
    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            # asdecimal=False: SQLAlchemy would otherwise warn that SQLite has no decimals;
            # the conversion to Decimal is done exactly below.
            return dialect.type_descriptor(Numeric(14, 2, asdecimal=False))
        return dialect.type_descriptor(Numeric(14, 2))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        q = Decimal(value).quantize(CENT)
        return str(q) if dialect.name == "sqlite" else q

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(CENT)
