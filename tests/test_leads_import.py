"""Lead import on real files and a real SQLite database: validation report, encodings,
missing columns, duplicates, a 1 GB line, phone normalisation and time zones."""

from __future__ import annotations

import asyncio
import csv
import resource
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from dialer.cli import main
from dialer.leads_import import ImportFileError
from dialer.phones import PhoneError, parse_phone
from dialer.store import Store, StoreSettings
from dialer.store.importer import ImportOptions, import_file

HEADER = "account,name,amount,currency,dpd,segment,owner,phone,phone_home,tz,branch\n"


def report_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(StoreSettings(url=str(tmp_path / "i.db")))
    await s.create_campaign("c", default_region="MX", settings={"priority": {"dpd_weight": 2.0}})
    yield s
    await s.close()


@pytest.mark.parametrize(
    ("raw", "region", "e164", "zone"),
    [
        ("55 1234 5678", "MX", "+525512345678", "America/Mexico_City"),
        ("664 123 4567", "MX", "+526641234567", "America/Tijuana"),
        ("+57 601 2345678", "MX", "+576012345678", "America/Bogota"),
        ("300 1234567", "CO", "+573001234567", "America/Bogota"),
        ("+51 1 2345678", "CO", "+5112345678", "America/Lima"),
        ("+56 9 6123 4567", "MX", "+56961234567", "America/Santiago"),
        ("+54 9 11 2345-6789", "MX", "+5491123456789", "America/Argentina/Buenos_Aires"),
        ("612 34 56 78", "ES", "+34612345678", "Europe/Madrid"),  # Madrid, not Canary
        ("(212) 555-0123", "US", "+12125550123", "America/New_York"),
        ("(415) 555-0123", "US", "+14155550123", "America/Los_Angeles"),
    ],
)
def test_numbers_get_e164_and_a_zone(raw: str, region: str, e164: str, zone: str) -> None:
    p = parse_phone(raw, region)
    assert (p.e164, p.time_zone) == (e164, zone)


@pytest.mark.parametrize("raw", ["12", "not a number", "+99 123", "5" * 41])
def test_bad_numbers_say_why(raw: str) -> None:
    with pytest.raises(PhoneError):
        parse_phone(raw, "MX")


@pytest.mark.asyncio
async def test_bad_rows_are_reported_and_good_rows_import(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "leads.csv"
    f.write_text(
        HEADER
        + "A1,Ana,1234.56,MXN,30,gold,ag1,55 1234 5678,81 1234 5678,,Centro\n"  # 2
        + "A2,Bob,12x,MXN,10,,,5512345679,,,\n"  # 3 bad amount
        + 'A3,Carla,"1,500.00",,400,silver,,12,5512345680,,Norte\n'  # 4 one bad phone
        + "A4,Dan,10,,0,,bad agent!,5512345681,,,\n"  # 5 bad owner
        + "A5,Eve,99,,5,,,5512345690,,Europe/Atlantis,\n"  # 6 bad zone: dropped
        + "\n"  # 7 blank
        + "A6,Fay,1,,1,,,,,,\n"  # 8 no phone
        + "A7,Gus,5,,1\n"  # 9 short row
        + ",Hal,5,,1,,,5512345691,,,\n"  # 10 no account
        + "A8,Ivy,-5,,1,,,5512345692,,,\n"  # 11 negative
        + "A9,Jo,7,,x,,,5512345693,,America/Monterrey,\n",  # 12 bad dpd
        encoding="utf-8",
    )
    r = await import_file(store, "c", f, options=ImportOptions(jobs=0))
    assert (r.rows, r.leads_created, r.rows_skipped, r.values_dropped) == (10, 3, 7, 2)
    rep = report_rows(tmp_path / "leads.csv.report.csv")
    got = {(x["row"], x["column"], x["action"]) for x in rep}
    assert got == {
        ("3", "amount", "row skipped"),
        ("4", "phone", "value dropped"),
        ("5", "owner", "row skipped"),
        ("6", "tz", "value dropped"),
        ("8", "phone", "row skipped"),
        ("9", "", "row skipped"),
        ("10", "account", "row skipped"),
        ("11", "amount", "row skipped"),
        ("12", "dpd", "row skipped"),
    }
    assert all(x["reason"] for x in rep)
    a1 = await store.get_lead("c", "A1")
    assert a1.debt_amount == Decimal("1234.56") and a1.owner_agent == "ag1"
    assert a1.segment == "gold" and a1.days_past_due == 30 and a1.custom == {"branch": "Centro"}
    assert [(p.e164, p.kind, p.time_zone) for p in a1.phones] == [
        ("+525512345678", "phone", "America/Mexico_City"),
        ("+528112345678", "home", "America/Mexico_City"),
    ]
    a3 = await store.get_lead("c", "A3")
    assert a3.debt_amount == Decimal("1500.00") and a3.currency == "MXN"
    assert [p.e164 for p in a3.phones] == ["+525512345680"]
    assert a3.priority > a1.priority  # 400 days past due with dpd_weight 2


@pytest.mark.asyncio
async def test_missing_columns_are_named(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("name,debt\nAna,10\n")
    with pytest.raises(ImportFileError, match=r"account.*phone"):
        await import_file(store, "c", f)
    f.write_text("account,amount,phone,Phone\n")
    with pytest.raises(ImportFileError, match="appears twice"):
        await import_file(store, "c", f)


@pytest.mark.asyncio
async def test_latin1_files(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "latin.csv"
    f.write_bytes("account,name,amount,phone\nA1,José Núñez,10,5512345678\n".encode("latin-1"))
    with pytest.raises(ImportFileError, match=r"not UTF-8.*line 2"):
        await import_file(store, "c", f, options=ImportOptions(encoding="utf-8"))
    r = await import_file(store, "c", f)
    assert r.encoding == "latin-1" and r.leads_created == 1 and r.notes == 1
    assert (await store.get_lead("c", "A1")).debtor_name == "José Núñez"
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffaccount,name,amount,phone\nB1,Zoë,10,5512345679\n".encode())
    r = await import_file(store, "c", bom)
    assert r.encoding == "utf-8" and (await store.get_lead("c", "B1")).debtor_name == "Zoë"


@pytest.mark.asyncio
async def test_a_1_gb_line_is_reported_not_loaded(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "huge.csv"
    with f.open("wb") as fh:
        fh.write(b"account,amount,phone\nA1,10,5512345678\n")
        start = fh.tell()
        fh.truncate(start + (1 << 30))  # a sparse 1 GiB line (no newline in it)
        fh.seek(start + (1 << 30))
        fh.write(b"\nA2,20,5512345679\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = await import_file(store, "c", f, options=ImportOptions(jobs=0))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100
    assert (r.leads_created, r.rows_skipped) == (2, 1)
    rep = report_rows(tmp_path / "huge.csv.report.csv")
    assert [(x["row"], x["action"]) for x in rep] == [("3", "row skipped")]
    assert "longer than" in rep[0]["reason"]


@pytest.mark.asyncio
@pytest.mark.parametrize("policy", ["merge", "skip", "report"])
async def test_duplicates(store: Store, tmp_path: Path, policy: str) -> None:
    first = tmp_path / "a.csv"
    first.write_text("account,amount,dpd,phone\nA1,10,5,5512345678\nA2,20,5,5512345679\n")
    await import_file(store, "c", first)
    again = tmp_path / "b.csv"
    again.write_text(
        "account,amount,dpd,phone\n"
        "A1,15,6,5512345670\n"  # 2: same account as an existing lead
        "A3,30,1,5512345679\n"  # 3: A2's number
        "A4,40,1,5512345671\n"  # 4: new
        "A4,41,2,5512345672\n"  # 5: same account as row 4
    )
    r = await import_file(store, "c", again, options=ImportOptions(on_duplicate=policy))
    rep = {(x["row"], x["action"]) for x in report_rows(tmp_path / "b.csv.report.csv")}
    a1 = await store.get_lead("c", "A1")
    a4 = await store.get_lead("c", "A4")
    if policy == "merge":
        assert rep == {("2", "merged"), ("3", "note"), ("5", "merged")}
        assert a1.debt_amount == Decimal("15.00") and len(a1.phones) == 2
        assert a4.debt_amount == Decimal("41.00") and len(a4.phones) == 2
        assert r.leads_created == 2 and r.leads_merged == 1
    elif policy == "skip":
        assert rep == {("2", "duplicate skipped"), ("3", "duplicate skipped"),
                       ("5", "duplicate skipped")}  # fmt: skip
        assert a1.debt_amount == Decimal("10.00") and len(a4.phones) == 1
        assert r.leads_created == 1 and r.rows_skipped == 3
    else:
        assert rep == {("2", "row skipped"), ("3", "note"), ("5", "row skipped")}
        assert a1.debt_amount == Decimal("10.00") and a4.debt_amount == Decimal("40.00")
        assert r.leads_created == 2 and r.rows_skipped == 2


def test_cli_import_in_worker_processes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cli.db"

    async def setup() -> None:
        s = await Store.open(StoreSettings(url=str(db)))
        await s.create_campaign("co", default_region="CO")
        await s.close()

    asyncio.run(setup())
    f = tmp_path / "co.csv"
    lines = ["cuenta,nombre,saldo,telefono,celular"]
    lines += [f"C{i},N{i},{i}.50,601 234 {i:04d},300 123 {i:04d}" for i in range(1, 301)]
    lines.append("C999,Bad,1,123,")
    f.write_text("\n".join(lines) + "\n")
    rep = tmp_path / "rep.csv"
    argv = ["leads", "import", str(f), "--campaign", "co", "--db", str(db)]
    assert main([*argv, "--jobs", "2", "--batch-size", "50", "--report", str(rep)]) == 0
    out = capsys.readouterr().out
    assert "leads created" in out and "300" in out
    assert [(x["row"], x["action"]) for x in report_rows(rep)] == [
        ("302", "value dropped"),
        ("302", "row skipped"),
    ]

    async def check() -> None:
        s = await Store.open(StoreSettings(url=str(db)))
        lead = await s.get_lead("co", "C7")
        await s.close()
        assert lead.currency == "COP"
        assert [p.e164 for p in lead.phones] == ["+576012340007", "+573001230007"]

    asyncio.run(check())
    assert main(["leads", "import", str(f), "--campaign", "nope", "--db", str(db)]) == 2
    assert "no campaign 'nope'" in capsys.readouterr().err
