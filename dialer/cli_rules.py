"""``dialer rules windows COUNTRY``: the calling windows the contact policy applies.

Shows a country's default windows (or the ``[rules]`` section of ``--config``), whether
calls are allowed at a moment in a zone, the next opening (debtor's local time and UTC),
and the public holidays that close calls in the coming weeks. For operations staff
checking "can we call Bogotá now, and if not, when?" without a lead.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dialer.errors import ConfigError
from rules.config import policy_settings_from_mapping
from rules.facts import zone
from rules.settings import PolicySettings
from rules.windows import holiday_name, is_open, next_open

EXIT_USAGE = 2


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = sub.add_parser("rules", help="contact-policy tools (calling windows)")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    windows = rules_sub.add_parser(
        "windows", help="a country's calling windows, open now or when next"
    )
    windows.add_argument("country", help="ISO 3166-1 alpha-2 code, e.g. CO")
    windows.add_argument("--zone", help="IANA time zone of the debtor, e.g. America/Bogota")
    windows.add_argument(
        "--at", help="moment to check, ISO 8601 with an offset (default: now)", default=None
    )
    windows.add_argument("--config", help="TOML file whose [rules] section overrides defaults")
    windows.add_argument(
        "--days", type=int, default=30, help="look this many days ahead for holidays"
    )
    windows.set_defaults(handler=_windows)


def _fail(message: str) -> int:
    print(f"dialer rules: {message}", file=sys.stderr)
    return EXIT_USAGE


def _settings(path: str | None) -> PolicySettings:
    if path is None:
        return PolicySettings()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(path, "(file)", exc.strerror or str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc)) from None
    return policy_settings_from_mapping(data.get("rules", {}), source=path)


def _windows(args: argparse.Namespace) -> int:
    country = str(args.country).upper()
    if len(country) != 2 or not country.isalpha():
        return _fail(f"country: expected an ISO alpha-2 code such as CO, got {args.country!r}")
    if args.days < 0 or args.days > 366:
        return _fail(f"--days: expected 0..366, got {args.days}")
    try:
        settings = _settings(args.config)
    except ConfigError as exc:
        return _fail(str(exc))
    windows = settings.windows_for(country)
    print(f"{country}: {windows.source}")
    for weekday in range(7):
        print(f"  {windows.describe(weekday)}")
    print(f"  public holidays: {'closed' if windows.closed_on_holidays else 'allowed'}")
    if args.zone is None:
        return 0
    try:
        tz: ZoneInfo = zone(args.zone)
    except ValueError as exc:
        return _fail(f"--zone: {exc}")
    if args.at is None:
        at = datetime.now(UTC)
    else:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            return _fail(f"--at: not an ISO 8601 moment: {args.at!r}")
        if at.tzinfo is None:
            return _fail("--at: give an offset or Z (e.g. 2026-06-09T10:00-05:00)")
    local = at.astimezone(tz)
    state = "OPEN" if is_open(windows, country, at, tz) else "closed"
    print(f"at {local:%a %Y-%m-%d %H:%M %Z} ({args.zone}): {state}")
    nxt = next_open(windows, country, at, tz, horizon_days=settings.horizon.days)
    if nxt is None:
        print("next opening: none within the horizon")
    else:
        print(f"next opening: {nxt.astimezone(tz):%a %Y-%m-%d %H:%M %Z} = {nxt:%Y-%m-%d %H:%M} UTC")
    if windows.closed_on_holidays:
        for i in range(args.days + 1):
            day = local.date() + timedelta(days=i)
            name = holiday_name(country, day)
            if name is not None:
                print(f"holiday (closed): {day:%a %Y-%m-%d} {name}")
    return 0
