"""Reading a TOML file with errors people can act on (scenario and configuration files)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from dialer.errors import ConfigError


def read_toml(path: str | Path) -> dict[str, Any]:
    """The parsed file, or a ``ConfigError`` naming it.

    A missing or unreadable file is reported under the key ``(file)``; a TOML syntax
    error under its ``line N, column M``.
    """
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(source, "(file)", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "(file)", "not UTF-8 text, as TOML requires") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's error carries the position only in its message.
        message = str(exc)
        where = re.search(r"\(at (line \d+, column \d+|end of document)\)", message)
        key = where[1] if where else "(toml)"
        reason = message[: where.start()].strip() if where else message
        raise ConfigError(source, key, f"invalid TOML: {reason}") from exc
