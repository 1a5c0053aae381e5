"""Rendering for ``dialer campaign status`` and ``dialer report``: pure functions of
plain data (``CampaignStatusData``, ``kpis.Report``), so that they are tested without a
terminal. Rates are ratios in 0..1; ``None`` prints as a dash."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dialer.kpis import Report

# A heartbeat older than this (real seconds) means no host is running the campaign.
STALE_AFTER = 5.0


@dataclass(frozen=True, slots=True)
class CampaignStatusData:
    name: str
    mode: str
    status: str  # the database's: created | running | paused | stopped
    leads: Mapping[str, int]
    host: str | None = None  # the host running it now, if its beat is fresh
    host_state: str | None = None  # running | paused | draining | stopped
    beat_age: float | None = None  # real seconds since the last beat
    engine_time: datetime | None = None
    live: Mapping[str, Any] = field(default_factory=dict)
    contacts: int = 0
    right_party_contacts: int = 0
    promises: int = 0
    promised_amount: Mapping[str, Decimal] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "mode": self.mode,
            "status": self.status,
            "leads": dict(self.leads),
            "host": self.host,
            "host_state": self.host_state,
            "beat_age_seconds": self.beat_age,
            "engine_time": None if self.engine_time is None else self.engine_time.isoformat(),
            "live": dict(self.live),
            "contacts": self.contacts,
            "right_party_contacts": self.right_party_contacts,
            "promises": self.promises,
            "promised_amount": {k: str(v) for k, v in self.promised_amount.items()},
        }


def pct(value: object) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.2%}"


def _money(amounts: Mapping[str, Decimal]) -> str:
    return ", ".join(f"{v:,.2f} {k}" for k, v in sorted(amounts.items())) or "0"


def status_panel(data: CampaignStatusData) -> Panel:
    """One campaign: agents by state, calls, dial level, abandon rates, outcomes."""
    live = data.live
    head = Text.assemble(
        (data.name, "bold"),
        f"  {data.mode}  status ",
        (data.status, "bold cyan"),
        "  " + (f"host {data.host} ({data.host_state})" if data.host else "no host running it"),
    )
    if data.engine_time is not None and data.host:
        head.append(f"  engine clock {data.engine_time:%Y-%m-%d %H:%M:%S %Z}")
    agents = Table(title="agents", show_header=False, box=None, title_justify="left")
    for state, n in sorted(dict(live.get("agents", {})).items()):
        agents.add_row(state, str(n))
    calls = Table(title="calls", show_header=False, box=None, title_justify="left")
    for label, key in (
        ("in flight", "in_flight"),
        ("dials", "dials"),
        ("live answers", "live"),
        ("connected", "connected"),
        ("abandoned", "abandoned"),
    ):
        calls.add_row(label, str(live.get(key, "-")))
    level = live.get("dial_level")
    calls.add_row("dial level", "-" if not isinstance(level, int | float) else f"{level:.2f}")
    rates = Table(title="abandon rate", show_header=False, box=None, title_justify="left")
    # Abandoned / live answers (dialer.kpis): over the host's run, and the last hour.
    target = live.get("abandon_target")
    for label, key in (("shift", "abandon_rate_shift"), ("last hour", "abandon_rate_rolling")):
        value = live.get(key)
        over = isinstance(value, float) and isinstance(target, float) and value > target
        rates.add_row(label, Text(pct(value), style="bold red" if over else "green"))
    rates.add_row("target", pct(target))
    outcomes = Table(title="outcomes", show_header=False, box=None, title_justify="left")
    outcomes.add_row("contacts", str(data.contacts))
    outcomes.add_row("right-party", str(data.right_party_contacts))
    outcomes.add_row("promises", str(data.promises))
    if data.promised_amount:
        outcomes.add_row("promised", _money(data.promised_amount))
    leads = Table(title="leads", show_header=False, box=None, title_justify="left")
    for status, n in sorted(data.leads.items()):
        leads.add_row(status, f"{n:,}")
    body = Table.grid(padding=(0, 3))
    body.add_row(agents, calls, rates)
    body.add_row(Text(""), Text(""), Text(""))
    body.add_row(outcomes, leads, Text(""))
    return Panel(Group(head, Text(""), body), border_style="blue")


def progress_line(at: datetime, items: Sequence[CampaignStatusData]) -> str:
    """One plain line for logs and pipes: each campaign's state, dials, live answers,
    abandon rate (shift) and calls in flight, at engine time ``at``."""
    parts = [f"{at:%Y-%m-%d %H:%M:%S}"]
    for d in items:
        live = d.live
        parts.append(
            f"{d.name} [{d.status}] dials {live.get('dials', 0)} live {live.get('live', 0)}"
            f" abandon {pct(live.get('abandon_rate_shift'))} in flight {live.get('in_flight', 0)}"
            f" contacts {d.contacts} promises {d.promises}"
        )
    return " | ".join(parts)


def status_group(items: Sequence[CampaignStatusData]) -> Group:
    return Group(*(status_panel(d) for d in items))


# The report's rows: (label, key, kind). kind: n (count), r (rate), s (seconds), m (money).
_REPORT_ROWS: tuple[tuple[str, str, str], ...] = (
    ("dials", "dials", "n"),
    ("leads dialled", "leads_dialled", "n"),
    ("attempts per lead", "attempts_per_lead", "f"),
    ("live answers", "live_answers", "n"),
    ("connected to an agent", "connected", "n"),
    ("abandoned", "abandoned", "n"),
    ("abandon rate (abandoned / live answers)", "abandon_rate", "r"),
    ("abandon rate, last 30 days (TCPA)", "abandon_rate_30d", "r"),
    ("abandon rate, last 24 hours (Ofcom)", "abandon_rate_24h", "r"),
    ("abandon rate of dials (not regulatory)", "abandon_rate_of_dials", "r"),
    ("contacts", "contacts", "n"),
    ("contact rate (per dial)", "contact_rate", "r"),
    ("right-party contacts", "right_party_contacts", "n"),
    ("RPC rate (per dial)", "rpc_rate", "r"),
    ("promises to pay", "promises", "n"),
    ("promised amount", "promised_amount", "m"),
    ("promises kept", "promises_kept", "n"),
    ("kept amount", "kept_amount", "m"),
    ("promises broken", "promises_broken", "n"),
    ("kept rate (kept / decided)", "promises_kept_rate", "r"),
    ("calls handled by agents", "handled_calls", "n"),
    ("agent occupancy", "occupancy", "r"),
    ("average talk (s)", "avg_talk_seconds", "f"),
    ("average wrap-up (s)", "avg_wrapup_seconds", "f"),
    ("average wait between calls (s)", "avg_wait_seconds", "f"),
)


def _cell(value: object, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "r":
        return pct(value)
    if kind == "m" and isinstance(value, Mapping):
        return _money(value)
    if kind == "f" and isinstance(value, int | float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def report_table(report: Report) -> Table:
    span = (
        f"{report.window_start.isoformat() if report.window_start else 'start'} to "
        f"{report.window_end.isoformat() if report.window_end else 'now'}"
    )
    table = Table(title=f"campaign {report.campaign}: {span}", title_justify="left")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for label, key, kind in _REPORT_ROWS:
        table.add_row(label, _cell(getattr(report, key), kind))
    for code, n in report.dispositions.items():
        table.add_row(f"disposition: {code}", f"{n:,}")
    for outcome, n in report.outcomes.items():
        table.add_row(f"outcome: {outcome}", f"{n:,}")
    return table


def report_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=False) + "\n"


def report_csv(report: Report) -> str:
    """Two columns, ``kpi,value``: one row per figure (maps flattened as ``key.sub``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["kpi", "value"])
    for key, value in report.as_dict().items():
        if isinstance(value, dict):
            for sub, v in value.items():
                writer.writerow([f"{key}.{sub}", v])
        else:
            writer.writerow([key, "" if value is None else value])
    return buf.getvalue()
