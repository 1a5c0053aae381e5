"""``dialer campaign create|start|stop|pause|resume|status``, ``dialer report`` and
``dialer agents list|add``: operations from the command line.

Exit status: 0 done; 2 bad input (unknown campaign or agent, invalid setting, bad
option value), with the reason on stderr; 1 the database or the run failed.
``stop``, ``pause`` and ``resume`` only write the campaign's status: the host running
it (``start``, in another terminal or machine) reads it within a second and acts.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from dialer.agent_api import ApiSettings
from dialer.backends import BACKENDS, BackendSettings, open_backend
from dialer.campaign_config import MODES, plan_campaign
from dialer.campaign_host import CampaignHost
from dialer.cli_db import add_db_argument
from dialer.config import DialerConfig, load_config
from dialer.disposition_codes import classify
from dialer.errors import ConfigError, DialerError
from dialer.host_config import HostConfig
from dialer.host_run import ServicesFn, start_host, worker_name
from dialer.kpis import Report, Window
from dialer.metrics import MetricsSettings
from dialer.ops_db import ensure_tables, read_beat
from dialer.report_data import campaign_report
from dialer.services import Services, start_services
from dialer.status_view import (
    STALE_AFTER,
    CampaignStatusData,
    progress_line,
    report_csv,
    report_json,
    report_table,
    status_group,
)
from dialer.store import AlreadyExists, CampaignStatus, NotFound, Store, StoreError
from dialer.store.settings import StoreSettings, settings_for
from pacing.registry import PACERS
from telephony.ami_config import AmiConfig
from telephony.audiosocket_server import AudioSocketSettings

EXIT_FAIL = 1
EXIT_USAGE = 2
LINE_EVERY = 10.0  # real seconds between progress lines when the output is not a terminal


class UsageError(Exception):
    """Bad input found while running a command: exit 2."""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    camp = sub.add_parser("campaign", help="create, start, stop, pause and watch campaigns")
    csub = camp.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")

    create = csub.add_parser("create", help="create a campaign")
    create.add_argument("name")
    create.add_argument("--mode", choices=MODES, required=True)
    create.add_argument("--pacer", choices=PACERS, help="default: the mode's own")
    create.add_argument("--abandon-target", type=float, metavar="RATIO", help="default 0.03")
    create.add_argument("--connect-deadline", type=float, metavar="S", help="default 2.0")
    create.add_argument("--no-answer-timeout", type=float, metavar="S", help="default 25")
    create.add_argument("--max-lines", type=int, metavar="N", help="trunk channels (no cap)")
    create.add_argument(
        "--amd",
        choices=("asterisk", "engine"),
        help="answering-machine detection: Asterisk's AMD() or our detector (AudioSocket);"
        " default: the Asterisk server's outbound extension",
    )
    create.add_argument("--dial-level", type=float, metavar="X", help="ratio mode (2.0)")
    create.add_argument("--region", default="US", help="default phone region (ISO code)")
    add_db_argument(create)
    create.set_defaults(handler=_create)

    start = csub.add_parser(
        "start",
        help="run campaigns in this process (foreground) until stopped",
        description="Runs the named campaigns at once in one host. Ctrl-C stops dialling,"
        " lets calls in flight end, and exits. If a host already runs a paused campaign,"
        " use 'resume' instead.",
    )
    start.add_argument("names", nargs="+", metavar="NAME")
    start.add_argument("--backend", choices=BACKENDS, default="sim")
    start.add_argument("--scenario", type=Path, help="sim: traffic model (default: demo)")
    start.add_argument("--speed", type=float, default=1.0, help="sim: x real time; 0: max")
    start.add_argument("--seed", type=int, help="sim: override the scenario's seed")
    start.add_argument(
        "--start",
        dest="sim_start",
        metavar="WHEN",
        help="sim: engine wall clock at start, ISO with offset (default: the next working"
        " day at the scenario's time of day)",
    )
    start.add_argument(
        "--for", dest="duration", type=float, metavar="S", help="stop after S engine seconds"
    )
    start.add_argument(
        "--drain-timeout",
        type=float,
        metavar="S",
        help="engine seconds calls in flight may take to end when stopping (default: the"
        " --config file's [host] drain_timeout, else 600)",
    )
    start.add_argument("--no-live", action="store_true", help="no live view (nor progress lines)")
    start.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings file (config.example.toml): its [api] and [metrics] sections start"
        " the agent HTTP API and the Prometheus endpoint beside the campaigns",
    )
    start.add_argument(
        "--api-port", type=int, metavar="PORT", help="serve the agent API here (0: any free)"
    )
    start.add_argument(
        "--metrics-port", type=int, metavar="PORT", help="serve /metrics here (0: any free)"
    )
    add_db_argument(start)
    start.set_defaults(handler=_start)

    for action, status, text in (
        ("stop", CampaignStatus.STOPPED, "stop dialling; the host drains and ends it"),
        ("pause", CampaignStatus.PAUSED, "stop dialling for now; agents move or wait"),
        ("resume", CampaignStatus.RUNNING, "dial again after a pause"),
    ):
        p = csub.add_parser(action, help=text)
        p.add_argument("name")
        add_db_argument(p)
        p.set_defaults(handler=_set_status, status=status)

    st = csub.add_parser("status", help="show campaigns (live with --watch)")
    st.add_argument("name", nargs="?")
    st.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    st.add_argument("--every", type=float, default=1.0, metavar="S", help="refresh period")
    st.add_argument("--json", action="store_true", help="print one JSON object")
    add_db_argument(st)
    st.set_defaults(handler=_status)

    rep = sub.add_parser("report", help="collections KPIs of a campaign")
    rep.add_argument("campaign")
    rep.add_argument("--from", dest="since", metavar="WHEN", help="ISO date/time (UTC if naive)")
    rep.add_argument("--to", dest="until", metavar="WHEN", help="ISO date/time, exclusive")
    rep.add_argument("--format", default="table", help="table, csv or json")
    add_db_argument(rep)
    rep.set_defaults(handler=_report)

    ag = sub.add_parser("agents", help="list agents, or add one (prints its API token once)")
    asub = ag.add_subparsers(dest="agents_command", metavar="ACTION")
    lst = asub.add_parser("list", help="list agents")
    lst.add_argument("--campaign")
    add_db_argument(lst)
    lst.set_defaults(handler=_agents_list)
    add = asub.add_parser("add", help="add agents; prints each one's API token once")
    add.add_argument("codes", nargs="+", metavar="CODE")
    add.add_argument("--name", default="", help="display name (one agent only)")
    add.add_argument("--campaign", action="append", default=[], help="repeat for several")
    add_db_argument(add)
    add.set_defaults(handler=_agents_add)
    add_db_argument(ag)
    ag.set_defaults(handler=_agents_list, campaign=None)


# ---------------------------------------------------------------------- helpers


def _err(command: str, message: object) -> None:
    print(f"dialer {command}: error: {message}", file=sys.stderr)


def _with_store(
    command: str, db: str | None, work: Callable[[Store], Awaitable[int]], *, migrate: bool = True
) -> int:
    """Open the store, run ``work``, close; map errors to exit statuses."""
    try:
        settings = settings_for(db, auto_migrate=migrate)
    except ValueError as exc:
        _err(command, exc)
        return EXIT_USAGE

    async def run() -> int:
        store = await Store.open(settings)
        try:
            await ensure_tables(store)
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except (UsageError, NotFound, AlreadyExists, ConfigError, ValueError) as exc:
        _err(command, exc)
        return EXIT_USAGE
    except (StoreError, DialerError) as exc:
        _err(command, exc)
        return EXIT_FAIL


def parse_when(text: str | None, what: str) -> datetime | None:
    """ISO 8601 date or date-time; naive means UTC."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what}: not an ISO date or date-time: {text!r}") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


# ---------------------------------------------------------------------- campaign


def _create(args: argparse.Namespace) -> int:
    settings: dict[str, Any] = {}
    for key in ("pacer", "abandon_target", "connect_deadline", "no_answer_timeout"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.max_lines is not None:
        settings["max_lines"] = args.max_lines
    if args.amd is not None:
        settings["amd"] = args.amd
    if args.dial_level is not None:
        settings["dial_level"] = args.dial_level
    try:
        plan_campaign(args.name, args.mode, settings)  # refuse now what start would refuse
    except (ConfigError, ValueError) as exc:
        _err("campaign create", exc)
        return EXIT_USAGE

    async def work(store: Store) -> int:
        info = await store.create_campaign(
            args.name, mode=args.mode, settings=settings, default_region=args.region
        )
        print(f"created campaign {info.name} ({info.mode})")
        return 0

    return _with_store("campaign create", args.db, work)


def _set_status(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        info = await store.get_campaign(args.name)
        if info.status == CampaignStatus.STOPPED and args.status != CampaignStatus.STOPPED:
            raise UsageError(f"campaign {args.name!r} is stopped; start it with: campaign start")
        await store.set_campaign_status(args.name, args.status)
        beat = await read_beat(store, args.name)
        alive = beat is not None and _age(beat["beat_at"]) < STALE_AFTER
        tail = "" if alive else " (no host is running it now)"
        print(f"campaign {args.name}: {args.status}{tail}")
        return 0

    return _with_store(f"campaign {args.campaign_command}", args.db, work)


def _services(args: argparse.Namespace, config: DialerConfig | None) -> ServicesFn | None:
    """The agent API and metrics to serve: the ``--config`` file's [api] and [metrics]
    sections, or just what ``--api-port`` / ``--metrics-port`` ask for; None: neither."""
    if config is None and args.api_port is None and args.metrics_port is None:
        return None
    api = config.section(ApiSettings) if config else ApiSettings(enabled=False)
    metrics = config.section(MetricsSettings) if config else MetricsSettings(enabled=False)
    try:
        if args.api_port is not None:
            api = dataclasses.replace(api, enabled=True, port=args.api_port)
        if args.metrics_port is not None:
            metrics = dataclasses.replace(metrics, enabled=True, port=args.metrics_port)
    except ValueError as exc:
        raise UsageError(f"--api-port/--metrics-port: {exc}") from None
    chosen = Services(api=api, metrics=metrics)

    async def start(host: CampaignHost, store: Store) -> Callable[[], Awaitable[None]]:
        return await start_services(host, store, chosen, announce=_announce)

    return start


def _ami_backend(args: argparse.Namespace, config: DialerConfig | None) -> dict[str, Any]:
    """``--backend ami``: the servers of the ``--config`` file's [ami] section and its
    [audiosocket] server (our detector, for servers whose outbound extension is engine)."""
    if args.backend != "ami":
        return {}
    if config is None:
        raise UsageError("--backend ami needs --config FILE with an [ami] section")
    servers = config.section(AmiConfig).servers
    if not servers:
        raise ConfigError(str(args.config), "ami", "no [ami] section: name your servers")
    # Our detector's server runs when a server's extension or a campaign asks for it
    # ([audiosocket] in the file, or a campaign created with --amd engine).
    wanted = "audiosocket" in config.sections or asyncio.run(_engine_amd(args))
    return {
        "ami": servers,
        "audiosocket": config.section(AudioSocketSettings) if wanted else None,
    }


async def _engine_amd(args: argparse.Namespace) -> bool:
    store = await Store.open(settings_for(args.db, auto_migrate=True))
    try:
        infos = [await store.get_campaign(name) for name in args.names]
    except NotFound:
        return False  # reported with its name when the host prepares the campaigns
    finally:
        await store.close()
    return any(info.settings.get("amd") == "engine" for info in infos)


def _announce(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _start(args: argparse.Namespace) -> int:
    try:
        # The --config file is read once; a bad one stops here, before any loop exists.
        config = load_config(args.config) if args.config is not None else None
        host_settings = (config.section(HostConfig) if config else HostConfig()).host_settings(
            host_id=worker_name(), drain_timeout=args.drain_timeout
        )
        services = _services(args, config)
        settings = settings_for(args.db, auto_migrate=True)
        scenario = args.scenario
        if args.backend == "sim" and scenario is None:
            ref = resources.files("simulator") / "scenarios" / "demo.toml"
            with resources.as_file(ref) as path:
                scenario = Path(path)
        backend = open_backend(
            BackendSettings(
                kind=args.backend,
                scenario=scenario,
                speed=args.speed,
                seed=args.seed,
                start=parse_when(args.sim_start, "--start"),
                countries=asyncio.run(_regions(settings, args.names)),
                **_ami_backend(args, config),
            )
        )
        if args.duration is not None and not args.duration > 0:
            raise ValueError("--for: must be > 0 engine seconds")
    except (ConfigError, ValueError, UsageError, StoreError) as exc:
        _err("campaign start", exc)
        return EXIT_USAGE
    until = args.duration
    if until is None and args.backend == "sim":
        until = backend.scenario.duration  # type: ignore[attr-defined]
    live = not args.no_live and sys.stdout.isatty()
    console = Console()
    title = f"{', '.join(args.names)} on {args.backend}"
    if live:
        with Live(console=console, auto_refresh=False) as view:

            def frame(host: CampaignHost, counts: Mapping[str, Counter[str]]) -> None:
                view.update(status_group(_host_status(host, counts)), refresh=True)

            outcome = start_host(
                settings,
                args.names,
                backend,
                until=until,
                on_frame=frame,
                host_settings=host_settings,
                services=services,
            )
    else:
        print(f"running {title}", flush=True)

        def line(host: CampaignHost, counts: Mapping[str, Counter[str]]) -> None:
            print(progress_line(host.clock.wall(), _host_status(host, counts)), flush=True)

        outcome = start_host(
            settings,
            args.names,
            backend,
            until=until,
            host_settings=host_settings,
            on_frame=None if args.no_live else line,
            frame_every=LINE_EVERY,
            services=services,
        )
    if outcome.error is not None and not outcome.live:
        _err("campaign start", outcome.error)  # nothing ran
        return outcome.status
    for name, numbers in outcome.live.items():
        print(
            f"{name}: dials {numbers.get('dials')}, live answers {numbers.get('live')}, "
            f"abandoned {numbers.get('abandoned')}, dispositions "
            f"{sum(outcome.dispositions.get(name, {}).values())}",
            flush=True,
        )
    if outcome.error is not None:
        _err("campaign start", outcome.error)
    return outcome.status


async def _regions(settings: StoreSettings, names: list[str]) -> tuple[str, ...]:
    """The campaigns' default regions (unknown names are reported later, by the host)."""
    store = await Store.open(settings)
    try:
        out = []
        for name in names:
            try:
                out.append((await store.get_campaign(name)).default_region)
            except NotFound:
                continue
        return tuple(out)
    finally:
        await store.close()


def _host_status(
    host: CampaignHost, counts: Mapping[str, Counter[str]]
) -> list[CampaignStatusData]:
    out = []
    for name in sorted(host.campaign_names):
        codes = counts.get(name, Counter())
        contacts = sum(n for c, n in codes.items() if classify(c)[0])
        rpc = sum(n for c, n in codes.items() if classify(c)[1])
        live = host.live_numbers(name)
        out.append(
            CampaignStatusData(
                name=name,
                mode=str(live["mode"]),
                status=host.campaign_state(name),
                leads={},
                host="this process",
                host_state=host.campaign_state(name),
                engine_time=host.clock.wall(),
                live=live,
                contacts=contacts,
                right_party_contacts=rpc,
                promises=codes.get("promise_to_pay", 0),
            )
        )
    return out


def _age(beat_at: datetime) -> float:
    return (datetime.now(UTC) - beat_at).total_seconds()


async def _status_data(store: Store, name: str) -> CampaignStatusData:
    info = await store.get_campaign(name)
    leads = await store.lead_counts(name)
    beat = await read_beat(store, name)
    fresh = beat is not None and _age(beat["beat_at"]) < STALE_AFTER
    since = beat["started_at"] if beat is not None else None
    contacts = rpc = 0
    for d in await store.dispositions(name, since=since):
        is_contact, is_rpc = classify(d.code)
        contacts += is_contact
        rpc += is_rpc
    promises = await store.promises(name, since=since)
    amount: dict[str, Decimal] = {}
    for p in promises:
        amount[p.currency] = amount.get(p.currency, Decimal(0)) + p.amount
    return CampaignStatusData(
        name=info.name,
        mode=info.mode,
        status=info.status,
        leads=leads,
        host=str(beat["host"]) if fresh and beat is not None else None,
        host_state=str(beat["state"]) if fresh and beat is not None else None,
        beat_age=None if beat is None else _age(beat["beat_at"]),
        engine_time=None if beat is None else beat["engine_time"],
        live={} if beat is None else dict(beat["live"]),
        contacts=contacts,
        right_party_contacts=rpc,
        promises=len(promises),
        promised_amount=amount,
    )


def _status(args: argparse.Namespace) -> int:
    if not args.every > 0:
        _err("campaign status", "--every: must be > 0 seconds")
        return EXIT_USAGE

    async def gather(store: Store) -> list[CampaignStatusData]:
        names = [args.name] if args.name else [c.name for c in await store.list_campaigns()]
        return [await _status_data(store, n) for n in names]

    async def work(store: Store) -> int:
        if args.json:
            items = await gather(store)
            print(json.dumps([d.as_dict() for d in items], indent=2))
            return 0
        console = Console()
        if not args.watch:
            items = await gather(store)
            if not items:
                print("no campaigns (create one with: dialer campaign create)")
            console.print(status_group(items))
            return 0
        with Live(console=console, auto_refresh=False) as view:
            try:
                while True:
                    view.update(status_group(await gather(store)), refresh=True)
                    await asyncio.sleep(args.every)
            except asyncio.CancelledError:
                return 0

    try:
        return _with_store("campaign status", args.db, work)
    except KeyboardInterrupt:
        return 0


# ---------------------------------------------------------------------- report


REPORT_FORMATS = ("table", "csv", "json")


def _report(args: argparse.Namespace) -> int:
    if args.format not in REPORT_FORMATS:
        _err("report", f"--format: {args.format!r} is not one of {', '.join(REPORT_FORMATS)}")
        return EXIT_USAGE
    try:
        window = Window(parse_when(args.since, "--from"), parse_when(args.until, "--to"))
    except (UsageError, ValueError) as exc:
        _err("report", exc)
        return EXIT_USAGE

    async def work(store: Store) -> int:
        report = await campaign_report(store, args.campaign, window)
        _print_report(report, args.format)
        return 0

    return _with_store("report", args.db, work)


def _print_report(report: Report, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(report_json(report))
    elif fmt == "csv":
        sys.stdout.write(report_csv(report))
    else:
        Console().print(report_table(report))


# ---------------------------------------------------------------------- agents


def _agents_list(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        if args.campaign is not None:
            await store.get_campaign(args.campaign)  # NotFound -> exit 2
        agents = await store.list_agents(args.campaign)
        table = Table(title="agents", title_justify="left")
        for col in ("code", "name", "active", "campaigns"):
            table.add_column(col)
        for a in agents:
            table.add_row(a.code, a.name, "yes" if a.active else "no", ", ".join(a.campaigns))
        Console().print(table)
        return 0

    return _with_store("agents list", args.db, work)


def _agents_add(args: argparse.Namespace) -> int:
    if args.name and len(args.codes) > 1:
        _err("agents add", "--name: give it for one agent at a time")
        return EXIT_USAGE

    async def work(store: Store) -> int:
        for name in args.campaign:
            await store.get_campaign(name)  # NotFound -> exit 2, before any agent exists
        for code in args.codes:
            info, token = await store.create_agent(code, name=args.name, campaigns=args.campaign)
            where = ", ".join(info.campaigns) or "no campaign"
            # The token is shown once, here; only its hash is stored.
            print(f"agent {info.code} ({where}) API token, shown once: {token}")
        return 0

    return _with_store("agents add", args.db, work)
