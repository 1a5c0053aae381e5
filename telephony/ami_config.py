"""The ``[ami]`` section of the configuration file, as ``AmiSettings`` (one per server).

Layout (config.example.toml, section ``# --- ami ---``)::

    [ami]                       # defaults for every server
    username = "dialer"
    secret_env = "DIALER_AMI_SECRET"   # the secret comes from this environment variable
    outbound_exten = "amd"
    [[ami.server]]
    name = "pbx1"
    host = "10.0.0.10"
    [[ami.server.trunk]]
    name = "carrier"
    template = "PJSIP/{number}@carrier"
    channels = 30

A literal ``secret = "..."`` is accepted too (but then the file must be private). Errors
are ``ConfigError(source, key, reason)``; a reason never quotes the secret.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from dialer.errors import ConfigError
from telephony.ami_settings import AmiSettings, Trunk

_FIELDS = {f.name: f for f in dataclasses.fields(AmiSettings)}
_FLOATS = {k for k, f in _FIELDS.items() if f.type == "float"}
_STRINGS = {k for k, f in _FIELDS.items() if f.type == "str"}


def servers_from_config(
    data: Mapping[str, Any], *, source: str, env: Mapping[str, str]
) -> tuple[AmiSettings, ...]:
    """``data`` is the parsed ``[ami]`` table; ``env`` the environment (secrets)."""
    base = {k: v for k, v in data.items() if k != "server"}
    servers = data.get("server", [{}])
    if not isinstance(servers, list) or not servers:
        raise ConfigError(source, "ami.server", "must be a list of [[ami.server]] tables")
    out = []
    for i, server in enumerate(servers):
        if not isinstance(server, Mapping):
            raise ConfigError(source, f"ami.server[{i}]", "must be a table")
        out.append(_server({**base, **server}, f"ami.server[{i}]", source, env))
    return tuple(out)


def _server(
    table: Mapping[str, Any], where: str, source: str, env: Mapping[str, str]
) -> AmiSettings:
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("trunk", "secret_env"):
            continue
        if key not in _FIELDS or key == "trunks":
            raise ConfigError(source, f"{where}.{key}", "unknown key")
        if key == "port":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(source, f"{where}.port", "must be an integer")
        elif key in _FLOATS:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ConfigError(source, f"{where}.{key}", "must be a number of seconds")
            kwargs[key] = float(value)
            continue
        elif key in _STRINGS and not isinstance(value, str):
            raise ConfigError(source, f"{where}.{key}", "must be a string")
        kwargs[key] = value
    secret_env = table.get("secret_env")
    if secret_env is not None:
        if not isinstance(secret_env, str) or secret_env not in env:
            raise ConfigError(
                source, f"{where}.secret_env", f"environment variable {secret_env!r} is not set"
            )
        kwargs["secret"] = env[secret_env]
    trunks = table.get("trunk")
    if trunks is not None:
        if not isinstance(trunks, list) or not trunks:
            raise ConfigError(source, f"{where}.trunk", "must be a list of [[...trunk]] tables")
        built = []
        for j, t in enumerate(trunks):
            try:
                built.append(Trunk(name=t["name"], template=t["template"], channels=t["channels"]))
            except (KeyError, TypeError) as exc:
                raise ConfigError(
                    source, f"{where}.trunk[{j}]", f"needs name, template, channels ({exc})"
                ) from None
            except ValueError as exc:
                raise ConfigError(source, f"{where}.trunk[{j}]", str(exc)) from None
        kwargs["trunks"] = tuple(built)
    try:
        return AmiSettings(**kwargs)
    except ValueError as exc:
        raise ConfigError(source, where, str(exc)) from None
