"""Reading a debtor file (CSV) into validated leads: streaming, row by row, never silent.

The file is read as bytes, one physical line at a time with a length cap
(``max_line_bytes``), so a 1 GB line costs ``max_line_bytes`` of memory and one report
entry, not a hang; the ``csv`` module parses the lines (quoted fields may span lines).

Encoding: ``auto`` checks the whole file is UTF-8 (a BOM is dropped); if it is not, it is
read as Latin-1 and the report says so (first bad byte and line). ``utf-8`` refuses a
non-UTF-8 file, naming the line; ``latin-1`` reads it as Latin-1.

Columns (header names are case-insensitive; spaces and dashes count as underscores):
``account`` (required: the creditor's account id; aliases ``account_id``,
``external_id``, ``cuenta``), ``amount`` (required: debt, e.g. ``1234.56`` or
``1,234.56``; aliases ``debt``, ``debt_amount``, ``balance``, ``saldo``), at least one
phone column (``phone``, ``phone2``, ``phone_home``, ``mobile``, ``tel...``,
``telefono...``, ``celular...``: the suffix is the phone's kind), and optionally
``name``, ``currency``, ``days_past_due`` (``dpd``), ``segment``, ``owner`` (agent code),
``time_zone`` (IANA; overrides the zone from the number for every phone of the row).
Every other column goes to the lead's custom fields (JSON), as text.

Each problem is an ``Issue(row, column, value, reason, action)``; ``row`` is the file's
line number where the record starts (the header is line 1). A row with no usable phone,
no account or a bad amount is skipped; a bad second phone is dropped and reported while
the row imports.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from dialer.errors import DialerError
from dialer.phones import PhoneError, parse_phone, valid_zone
from rules.priority import PriorityWeights, priority

ALIASES: dict[str, tuple[str, ...]] = {
    "account": ("account", "account_id", "external_id", "cuenta", "id_cuenta", "acct"),
    "name": ("name", "debtor_name", "debtor", "nombre"),
    "amount": ("amount", "debt", "debt_amount", "balance", "saldo", "monto"),
    "currency": ("currency", "moneda"),
    "days_past_due": ("days_past_due", "dpd", "dias_mora", "days_overdue"),
    "segment": ("segment", "segmento"),
    "owner": ("owner", "owner_agent", "agent", "agente"),
    "time_zone": ("time_zone", "timezone", "tz", "zona_horaria"),
}
REQUIRED = ("account", "amount")
_PHONE = re.compile(r"^(phone|tel|telefono|mobile|celular|cell)[_]?([a-z0-9_]*)$")
_AMOUNT = re.compile(r"^\d{1,3}(,\d{3})+(\.\d{1,2})?$|^\d+(\.\d{1,2})?$")
_AGENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_AMOUNT = Decimal("1e12")
CENT = Decimal("0.01")
CURRENCY_OF = {
    "MX": "MXN",
    "CO": "COP",
    "PE": "PEN",
    "CL": "CLP",
    "AR": "ARS",
    "ES": "EUR",
    "US": "USD",
    "BR": "BRL",
    "EC": "USD",
    "GT": "GTQ",
    "CA": "CAD",
}


class ImportFileError(DialerError):
    """The file as a whole cannot be imported (missing columns, wrong encoding...)."""


@dataclass(frozen=True, slots=True)
class Issue:
    row: int  # line number where the record starts (header = 1; 0 = the whole file)
    column: str
    value: str  # at most 60 characters of the offending value
    reason: str
    action: str  # "row skipped" | "value dropped" | "merged" | "duplicate skipped" | "note"


@dataclass(frozen=True, slots=True)
class PhoneColumn:
    index: int
    name: str
    kind: str
    priority: int


@dataclass(frozen=True, slots=True)
class Layout:
    """Which column holds what, from the header."""

    header: tuple[str, ...]
    fields: dict[str, int]
    phones: tuple[PhoneColumn, ...]
    custom: tuple[tuple[int, str], ...]


class PhoneRow(NamedTuple):
    """One valid number of a row, as the ``phones`` table holds it."""

    e164: str
    kind: str
    priority: int  # 0 = first phone column
    time_zone: str
    country: str


class RowLead(NamedTuple):
    """One valid row, ready to be written. Plain tuples and strings: batches of these
    travel from the validation processes to the writer, and pickle cheaply."""

    row: int
    account: str
    name: str
    amount: str  # canonical decimal text, two places ("1500.00")
    currency: str
    days_past_due: int
    segment: str | None
    owner: str | None
    priority: float
    custom_json: str  # the custom columns as a JSON object
    phones: tuple[PhoneRow, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RowRules:
    """What validation needs besides the row: defaults and priority weights."""

    region: str
    currency: str
    weights: PriorityWeights = field(default_factory=PriorityWeights)


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def header_roles(
    header: list[str], aliases: dict[str, tuple[str, ...]]
) -> tuple[list[str], dict[str, int]]:
    """(normalised names, role -> column index) of a header line; ImportFileError for a
    nameless or repeated column, or two columns meaning the same role."""
    names = [_norm(h) for h in header]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if not n:
            raise ImportFileError(f"column {i + 1} of the header has no name")
        if n in seen:
            raise ImportFileError(f"column {header[i]!r} appears twice in the header")
        seen[n] = i
    fields: dict[str, int] = {}
    for role, names_for_role in aliases.items():
        hits = [a for a in names_for_role if a in seen]
        if len(hits) > 1:
            raise ImportFileError(f"columns {hits} all mean {role!r}: keep one")
        if hits:
            fields[role] = seen[hits[0]]
    return names, fields


def layout_of(header: list[str]) -> Layout:
    """Map header names to roles; ImportFileError naming missing or repeated columns."""
    names, fields = header_roles(header, ALIASES)
    phones: list[PhoneColumn] = []
    used = set(fields.values())
    for i, n in enumerate(names):
        m = _PHONE.match(n)
        if m and i not in used:
            suffix = m.group(2).strip("_")
            kind = suffix.rstrip("0123456789").strip("_") or m.group(1)
            phones.append(PhoneColumn(i, header[i], kind[:20], len(phones)))
            used.add(i)
    missing = [r for r in REQUIRED if r not in fields]
    if not phones:
        missing.append("phone (at least one phone column)")
    if missing:
        raise ImportFileError(
            f"missing required column(s): {', '.join(missing)}; the header has: {', '.join(header)}"
        )
    custom = tuple((i, header[i].strip()) for i in range(len(header)) if i not in used)
    return Layout(tuple(header), fields, tuple(phones), custom)


def _short(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."


def parse_row(
    record: list[str], row: int, layout: Layout, rules: RowRules
) -> tuple[RowLead | None, list[Issue]]:
    """Validate one record. Pure: the worker processes run it."""
    issues: list[Issue] = []

    def skip(column: str, value: str, reason: str) -> tuple[None, list[Issue]]:
        issues.append(Issue(row, column, _short(value), reason, "row skipped"))
        return None, issues

    if len(record) != len(layout.header):
        return skip("", "", f"expected {len(layout.header)} fields, found {len(record)}")
    f = layout.fields
    header = layout.header

    def get(role: str) -> str:
        i = f.get(role)
        return record[i].strip() if i is not None else ""

    account = get("account")
    if not account:
        return skip(header[f["account"]], "", "empty account id")
    if len(account) > 100:
        return skip(header[f["account"]], account, "account id longer than 100 characters")
    raw_amount = get("amount")
    if not _AMOUNT.match(raw_amount):
        return skip(header[f["amount"]], raw_amount, "not an amount like 1234.56 (>= 0)")
    try:
        amount = Decimal(raw_amount.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern already checked it
        return skip(header[f["amount"]], raw_amount, "not an amount")
    if amount >= MAX_AMOUNT:
        return skip(header[f["amount"]], raw_amount, "amount too large (>= 10^12)")
    currency = (get("currency") or rules.currency).upper()
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        return skip(header[f["currency"]], currency, "currency is not a 3-letter ISO code")
    raw_dpd = get("days_past_due")
    dpd = 0
    if raw_dpd:
        if not raw_dpd.isdigit() or len(raw_dpd) > 6:
            return skip(
                header[f["days_past_due"]], raw_dpd, "days past due: not a whole number >= 0"
            )
        dpd = int(raw_dpd)
    name = get("name")
    if len(name) > 200:
        return skip(header[f["name"]], name, "name longer than 200 characters")
    segment = get("segment") or None
    if segment is not None and len(segment) > 50:
        return skip(header[f["segment"]], segment, "segment longer than 50 characters")
    owner = get("owner") or None
    if owner is not None and not _AGENT.match(owner):
        return skip(header[f["owner"]], owner, "owner: not an agent code (letters, digits, - _)")
    tz_override = get("time_zone") or None
    if tz_override is not None and not valid_zone(tz_override):
        issues.append(
            Issue(
                row,
                header[f["time_zone"]],
                _short(tz_override),
                "unknown IANA time zone; the zone of each number is used",
                "value dropped",
            )
        )
        tz_override = None

    phones: list[PhoneRow] = []
    seen: set[str] = set()
    for col in layout.phones:
        raw = record[col.index].strip()
        if not raw:
            continue
        try:
            p = parse_phone(raw, rules.region)
        except PhoneError as exc:
            issues.append(Issue(row, col.name, _short(raw), str(exc), "value dropped"))
            continue
        if p.e164 in seen:
            issues.append(
                Issue(row, col.name, raw, "same number twice in the row", "value dropped")
            )
            continue
        seen.add(p.e164)
        zone = p.time_zone if tz_override is None else tz_override
        phones.append(PhoneRow(p.e164, col.kind, col.priority, zone, p.country))
    if not phones:
        issues.append(Issue(row, "phone", "", "no valid phone number in the row", "row skipped"))
        return None, issues
    custom = {name_: record[i] for i, name_ in layout.custom if record[i] != ""}
    prio = priority(segment, amount, dpd, weights=rules.weights)
    lead = RowLead(
        row,
        account,
        name,
        str(amount.quantize(CENT)),
        currency,
        dpd,
        segment,
        owner,
        prio,
        json.dumps(custom, ensure_ascii=False),
        tuple(phones),
    )
    return lead, issues


# ---------------------------------------------------------------------- reading


@dataclass(slots=True)
class Reading:
    """State of one pass over a file: what ``records`` found besides the records."""

    encoding: str = "utf-8"
    issues: list[Issue] = field(default_factory=list)
    long_lines: set[int] = field(default_factory=set)


def check_utf8(path: Path, chunk: int = 1 << 20) -> tuple[int, int] | None:
    """None if the file is valid UTF-8; else (line, byte offset) of the first bad byte.
    Streams: memory is one chunk whatever the file."""
    dec = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    line = 1
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            try:
                dec.decode(block)
            except UnicodeDecodeError as exc:
                return line + block[: exc.start].count(b"\n"), offset + exc.start
            line += block.count(b"\n")
            offset += len(block)
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return line, offset
    return None


def _lines(fh: BinaryIO, encoding: str, max_line: int, reading: Reading) -> Iterator[str]:
    """Physical lines, decoded; an over-long line is skipped to its end (in chunks, so
    memory stays bounded) and replaced by an empty line, its number noted."""
    number = 0
    first = True
    while True:
        raw = fh.readline(max_line + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_line and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = fh.readline(1 << 20)
            reading.long_lines.add(number)
            yield "\n"
            continue
        text = raw.decode(encoding)
        if first and text.startswith("\ufeff"):
            text = text[1:]
        first = False
        yield text


def records(
    path: Path, *, encoding: str, max_line_bytes: int, reading: Reading
) -> Iterator[tuple[int, list[str]]]:
    """(starting line number, fields) for every record after the header; the header
    itself comes first with line number 1. CSV errors become issues, never exceptions."""
    if encoding not in ("auto", "utf-8", "latin-1"):
        raise ImportFileError(f"encoding {encoding!r}: expected auto, utf-8 or latin-1")
    if encoding in ("auto", "utf-8"):
        bad = check_utf8(path)
        if bad is None:
            reading.encoding = "utf-8"
        elif encoding == "utf-8":
            raise ImportFileError(
                f"{path}: not UTF-8 (first invalid byte at line {bad[0]}, byte {bad[1]}); "
                "use --encoding latin-1 if the file is Latin-1 / Windows-1252"
            )
        else:
            reading.encoding = "latin-1"
            reading.issues.append(
                Issue(
                    0,
                    "",
                    "",
                    f"file is not UTF-8 (first invalid byte at line {bad[0]}, "
                    f"byte {bad[1]}): read as Latin-1",
                    "note",
                )
            )
    else:
        reading.encoding = "latin-1"
    csv.field_size_limit(max_line_bytes)
    with path.open("rb") as fh:
        lines = _lines(fh, reading.encoding, max_line_bytes, reading)
        reader = csv.reader(lines, strict=False)
        start = 1
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                reading.issues.append(Issue(start, "", "", f"unreadable CSV: {exc}", "row skipped"))
                start = reader.line_num + 1
                continue
            here, start = start, reader.line_num + 1
            if not rec:
                if here in reading.long_lines:
                    reading.issues.append(
                        Issue(
                            here, "", "", f"line longer than {max_line_bytes} bytes", "row skipped"
                        )
                    )
                continue  # blank line
            yield here, rec


def open_records(
    path: Path, *, encoding: str, max_line_bytes: int
) -> tuple[Reading, Iterator[tuple[int, list[str]]], list[str]]:
    """(what the reading finds besides records, the records after the header, the
    header) of a file to import; ImportFileError when it is missing or empty."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    reading = Reading()
    rec_iter = records(path, encoding=encoding, max_line_bytes=max_line_bytes, reading=reading)
    first = next(rec_iter, None)
    if first is None:
        raise ImportFileError(f"{path}: empty file (no header line)")
    return reading, rec_iter, first[1]


def record_batches(
    it: Iterator[tuple[int, list[str]]], size: int
) -> Iterator[list[tuple[int, list[str]]]]:
    """``records`` in lists of ``size`` (the last one shorter)."""
    batch: list[tuple[int, list[str]]] = []
    for item in it:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def default_currency(region: str) -> str:
    return CURRENCY_OF.get(region.upper(), "USD")


def weights_from(settings: dict[str, Any]) -> PriorityWeights:
    """``PriorityWeights`` from a campaign's ``settings["priority"]`` table (optional)."""
    table = settings.get("priority") or {}
    if not isinstance(table, dict):
        raise ImportFileError("campaign settings: priority must be a table")
    try:
        return PriorityWeights(**table)
    except TypeError as exc:
        raise ImportFileError(f"campaign settings: priority: {exc}") from None
    except ValueError as exc:
        raise ImportFileError(f"campaign settings: priority.{exc}") from None
