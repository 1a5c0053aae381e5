"""``dialer leads payments`` end to end through ``dialer``'s main function on a real
SQLite file: leads imported, a promise recorded, a payment file imported; the promise is
kept, its follow-up call gone from ``dialer leads explain``, and ``dialer report`` counts
it with its amount. Then the usage errors (exit 2, message on stderr)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.store import Store, StoreSettings
from dialer.store.outcomes import DispositionInput, apply_disposition
from dialer.store.policy_config import policy_for


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


async def _promise(db: str, account: str, amount: str, made: datetime) -> None:
    store = await Store.open(StoreSettings(url=f"sqlite+aiosqlite:///{db}"))
    try:
        lead = await store.get_lead("c", account)
        info = await store.get_campaign("c")
        due = (made + timedelta(days=1)).date()
        await apply_disposition(
            store,
            policy_for(info.settings),
            lead.id,
            DispositionInput(code="promise_to_pay", amount=Decimal(amount), due=due),
            at=made,
        )
    finally:
        await store.close()


def test_a_payment_keeps_the_promise_and_the_report_counts_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "cli.db")
    assert (
        run(
            capsys, "campaign", "create", "c", "--mode", "progressive", "--region", "MX", "--db", db
        )[0]
        == 0
    )
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "account,name,amount,phone\nA1,Ana,5000.00,55 1234 5678\nA2,Beto,800.00,33 1234 5678\n",
        encoding="utf-8",
    )
    status, _, err = run(capsys, "leads", "import", str(leads), "--campaign", "c", "--db", db)
    assert status == 0, err
    now = datetime.now(UTC)
    made = now - timedelta(days=4)  # due 3 days ago: the follow-up is due now
    asyncio.run(_promise(db, "A1", "500.00", made))
    asyncio.run(_promise(db, "A2", "100.00", made))

    status, out, err = run(capsys, "leads", "explain", "A1", "--campaign", "c", "--db", db)
    assert status == 0, err
    assert "promise follow-up due since" in out

    paid = (now - timedelta(days=1)).astimezone(UTC).isoformat(timespec="seconds")
    pays = tmp_path / "pagos.csv"
    pays.write_text(
        f"cuenta,monto,fecha_pago,referencia\nA1,500.00,{paid},TX-1\nA9,1.00,{paid},TX-2\n",
        encoding="utf-8",
    )
    status, out, err = run(capsys, "leads", "payments", str(pays), "--campaign", "c", "--db", db)
    assert status == 0, err
    assert "promises kept" in out and "no such account in campaign c" in out
    assert (tmp_path / "pagos.csv.report.csv").is_file()

    status, out, err = run(capsys, "leads", "explain", "A1", "--campaign", "c", "--db", db)
    assert status == 0, err
    assert "promise" not in out  # kept: no follow-up, no hold

    since = (made - timedelta(days=1)).date().isoformat()
    status, out, err = run(capsys, "report", "c", "--from", since, "--format", "json", "--db", db)
    assert status == 0, err
    rep = json.loads(out)
    assert (rep["promises"], rep["promises_kept"], rep["promises_broken"]) == (2, 1, 0)
    assert rep["kept_amount"] == {"MXN": "500.00"}
    assert rep["promised_amount"] == {"MXN": "600.00"}

    # The same file again changes nothing; A2's overdue promise is closed when asked.
    status, out, err = run(
        capsys, "leads", "payments", str(pays), "--campaign", "c", "--close-overdue", "1",
        "--db", db,
    )  # fmt: skip
    assert status == 0, err
    assert "duplicate" in out
    status, out, _ = run(capsys, "report", "c", "--from", since, "--format", "json", "--db", db)
    rep = json.loads(out)
    assert (rep["promises_kept"], rep["promises_broken"]) == (1, 1)
    assert rep["promises_kept_rate"] == 0.5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--as-of", "yesterday"], "--as-of"),
        (["--close-overdue", "-3"], "close_overdue"),
        (["--campaign-typo"], "unrecognized"),
    ],
)
def test_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    db = str(tmp_path / "cli.db")
    pays = tmp_path / "p.csv"
    pays.write_text("account,amount,date\n", encoding="utf-8")
    assert run(capsys, "campaign", "create", "c", "--mode", "ratio", "--db", db)[0] == 0
    status, _, err = run(
        capsys, "leads", "payments", str(pays), "--campaign", "c", *extra, "--db", db
    )
    assert status == 2
    assert message in err


def test_unknown_campaign_and_missing_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "cli.db")
    pays = tmp_path / "p.csv"
    pays.write_text("account,amount\nA1,1.00\n", encoding="utf-8")
    status, _, err = run(capsys, "leads", "payments", str(pays), "--campaign", "nope", "--db", db)
    assert status == 2 and "nope" in err
    assert run(capsys, "campaign", "create", "c", "--mode", "ratio", "--db", db)[0] == 0
    status, _, err = run(capsys, "leads", "payments", str(pays), "--campaign", "c", "--db", db)
    assert status == 2 and "paid_at" in err
    status, _, err = run(
        capsys, "leads", "payments", str(tmp_path / "none.csv"), "--campaign", "c", "--db", db
    )
    assert status == 2 and "no such file" in err
