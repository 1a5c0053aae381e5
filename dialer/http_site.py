"""Serving an aiohttp application on one TCP address (the agent API, the metrics).

Loopback by default everywhere: a listening socket binds to 127.0.0.1 unless the
configuration names another address (ARCHITECTURE.md, security boundaries).
"""

from __future__ import annotations

from aiohttp import web


class HttpSite:
    def __init__(self, app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> int:
        """Listen; returns the bound port (port 0 asks the system for a free one)."""
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(exc.errno, f"cannot listen on {self._host}:{self._port}: {exc}") from exc
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
