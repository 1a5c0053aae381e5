"""The store on a real SQLite file: migrations, campaigns, agents and tokens, leases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from dialer.store import Store, StoreSettings
from dialer.store.engine import head_revision
from dialer.store.errors import AlreadyExists, NotFound
from dialer.store.models import Base

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_migrated_schema_equals_models(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "x.db"

    async def make() -> None:
        store = await Store.open(StoreSettings(url=f"sqlite+aiosqlite:///{db}"))
        await store.close()

    asyncio.run(make())
    assert db.exists()
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert ctx.get_current_revision() == head_revision()
        assert compare_metadata(ctx, Base.metadata) == []
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    eng.dispose()
    assert mode == "wal"


def test_settings_never_show_the_password() -> None:
    s = StoreSettings(url="postgresql://dialer:s3cr3t-pw@db.example:5432/dialer")
    assert "s3cr3t-pw" not in repr(s)
    assert "s3cr3t-pw" not in s.safe_url
    assert s.url.startswith("postgresql+asyncpg://")
    with pytest.raises(ValueError, match="unsupported database") as exc:
        StoreSettings(url="mysql://u:s3cr3t-pw@h/db")
    assert "s3cr3t-pw" not in str(exc.value)
    assert StoreSettings(url="some/file.db").url == "sqlite+aiosqlite:///some/file.db"


@pytest.mark.asyncio
async def test_campaigns_agents_tokens_and_leases(tmp_path: Path) -> None:
    store = await Store.open(StoreSettings(url=str(tmp_path / "d.db")))
    try:
        c = await store.create_campaign("cobranza", mode="progressive", default_region="mx", at=T0)
        assert c.default_region == "MX" and c.status == "created"
        with pytest.raises(AlreadyExists):
            await store.create_campaign("cobranza")
        with pytest.raises(ValueError, match="mode"):
            await store.create_campaign("x", mode="telepathic")
        with pytest.raises(NotFound):
            await store.get_campaign("nope")
        await store.set_campaign_status("cobranza", "running")
        assert (await store.get_campaign("cobranza")).status == "running"

        agent, token = await store.create_agent("a1", name="Ana", campaigns=["cobranza"])
        assert agent.campaigns == ("cobranza",)
        _other, token2 = await store.create_agent("a2")
        assert (await store.verify_token(token)) == agent
        assert (await store.verify_token(token2)).code == "a2"  # type: ignore[union-attr]
        assert await store.verify_token("") is None
        assert await store.verify_token(token + "x") is None
        # Only the hash is stored.
        async with store.session() as s:
            hashes = (await s.execute(sa.text("SELECT token_hash FROM agents"))).scalars().all()
        assert token not in " ".join(hashes)
        new = await store.rotate_token("a1")
        assert await store.verify_token(token) is None
        assert (await store.verify_token(new)).code == "a1"  # type: ignore[union-attr]
        await store.set_agent_active("a1", False)
        assert await store.verify_token(new) is None
        assert [a.code for a in await store.list_agents("cobranza")] == ["a1"]

        # Leases: one owner at a time; taken over only after expiry.
        assert await store.acquire_lease("cobranza", "p1", at=T0, ttl=30)
        assert not await store.acquire_lease("cobranza", "p2", at=T0 + timedelta(seconds=10))
        assert await store.acquire_lease("cobranza", "p1", at=T0 + timedelta(seconds=20), ttl=30)
        assert not await store.acquire_lease("cobranza", "p2", at=T0 + timedelta(seconds=45))
        assert await store.acquire_lease("cobranza", "p2", at=T0 + timedelta(seconds=51))
        assert not await store.acquire_lease("cobranza", "p1", at=T0 + timedelta(seconds=52))
        await store.release_lease("cobranza", "p2")
        assert await store.acquire_lease("cobranza", "p1", at=T0 + timedelta(seconds=53))
        with pytest.raises(NotFound):
            await store.acquire_lease("nope", "p1")

        assert await store.add_dnc(["+5215512345678", "+5215512345678"], source="t") == 1
        assert await store.is_dnc("+5215512345678")
        assert not await store.is_dnc("+5215512345679")
        with pytest.raises(ValueError, match=r"E\.164"):
            await store.add_dnc(["55 1234"], source="t")
        assert Decimal("1.10").quantize(Decimal("0.01")) == Decimal("1.10")
    finally:
        await store.close()


def test_db_upgrade_and_explain_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dialer.cli import main  # noqa: PLC0415

    db = tmp_path / "new" / "d.db"
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    assert f"upgraded (empty) -> {head_revision()}" in capsys.readouterr().out
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    assert "already at" in capsys.readouterr().out
    assert main(["db", "current", "--db", str(db)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["db", "upgrade", "--db", "mysql://u:pw-s3cr3t@h/x"]) == 2
    err = capsys.readouterr().err
    assert "unsupported database" in err and "pw-s3cr3t" not in err

    async def fill() -> None:
        from dialer.store.records import NewLead, NewPhone  # noqa: PLC0415

        s = await Store.open(StoreSettings(url=str(db)))
        await s.create_campaign("c", default_region="MX")
        await s.add_leads(
            "c",
            [
                NewLead(
                    external_id="ACC-1",
                    debtor_name="Ana",
                    debt_amount=Decimal("10"),
                    currency="MXN",
                    phones=(NewPhone("+525512345678", "America/Mexico_City", "MX"),),
                )
            ],
            at=T0,
        )
        await s.close()

    asyncio.run(fill())
    argv = ["leads", "explain", "ACC-1", "--campaign", "c", "--db", str(db)]
    assert main([*argv, "--at", "2026-03-03T23:30:00-06:00"]) == 0
    out = capsys.readouterr().out
    assert "account ACC-1" in out and "REFUSED" in out and "FAIL  calling_window" in out
    assert "next eligible: Wed 2026-03-04 07:00" in out
    assert main([*argv, "--at", "2026-03-03T10:00:00"]) == 2  # no offset
    assert main(["leads", "explain", "nope", "--campaign", "c", "--db", str(db)]) == 2
    assert "no lead 'nope'" in capsys.readouterr().err
