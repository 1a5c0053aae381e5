"""Prometheus metrics of running campaigns, on a registry of our own (never the global one).

Two sources, chosen by what each metric is:

- counters and the connect-delay histogram are fed by the runner's call notices
  (``dialer.call_notices``) as calls progress, so no scrape can miss an event;
- gauges (agents by state, calls in flight, dial level, abandon rate) are read from the
  runners at scrape time by a collector, so they are never stale and cost nothing between
  scrapes.

Metric names follow the Prometheus naming guide (base units: seconds; ``_total`` for
counters; ratios in 0..1). Labels carry the campaign id, an outcome, a verdict or a state,
never a phone number or a name: label values are bounded sets. Exposed over HTTP by
``dialer.http_server`` on 127.0.0.1 unless configured otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agents.state import AgentState
from dialer.call_notices import (
    CallAbandoned,
    CallFinished,
    CallNotice,
    CallPlaced,
    CallRouted,
    VerdictReached,
)
from dialer.ids import CampaignId
from dialer.runner import CampaignRunner

# Connect delay (verdict to bridge order) buckets around the 2-second rule (47 CFR
# 64.1200(a)(7); Ofcom): fine below 2 s, where the rule lives, coarse above.
CONNECT_DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsSettings:
    """Where Prometheus scrapes ``/metrics``: loopback by default (port 0: any free)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9108

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port: must be 0..65535")
        if not self.host:
            raise ValueError("host: must name an address, e.g. 127.0.0.1")


class DialerMetrics:
    """All dialer metrics of one process; ``attach`` each campaign runner as it starts."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._runners: dict[CampaignId, CampaignRunner] = {}
        r = self.registry
        self.dials = Counter("dialer_dials", "Calls originated", ["campaign"], registry=r)
        self.calls = Counter(
            "dialer_calls", "Finished calls by outcome", ["campaign", "outcome"], registry=r
        )
        self.live_answers = Counter(
            "dialer_live_answers",
            "Answered calls detected as a person (or routed as one)",
            ["campaign"],
            registry=r,
        )
        self.abandons = Counter(
            "dialer_abandons",
            "Persons nobody could take within the connect deadline",
            ["campaign"],
            registry=r,
        )
        self.amd = Counter(
            "dialer_amd_verdicts", "AMD verdicts", ["campaign", "verdict"], registry=r
        )
        self.connect_delay = Histogram(
            "dialer_connect_delay_seconds",
            "Seconds from a person detected to the bridge order",
            ["campaign"],
            buckets=CONNECT_DELAY_BUCKETS,
            registry=r,
        )
        r.register(_RunnerGauges(self._runners))

    def attach(self, runner: CampaignRunner) -> None:
        campaign = runner.settings.campaign
        self._runners[campaign] = runner
        runner.add_call_listener(self.observe)
        # Labelled children exist from the start, so a dashboard shows 0, not "no data".
        self.dials.labels(campaign)
        self.live_answers.labels(campaign)
        self.abandons.labels(campaign)

    def detach(self, campaign: CampaignId) -> None:
        """Stop reporting a campaign's gauges (its counters keep their totals)."""
        self._runners.pop(campaign, None)

    def observe(self, notice: CallNotice) -> None:
        c = notice.campaign
        if isinstance(notice, CallPlaced):
            self.dials.labels(c).inc()
        elif isinstance(notice, VerdictReached):
            self.amd.labels(c, notice.verdict.value).inc()
            if notice.live:
                self.live_answers.labels(c).inc()
        elif isinstance(notice, CallRouted):
            self.connect_delay.labels(c).observe(notice.wait)
        elif isinstance(notice, CallAbandoned):
            self.abandons.labels(c).inc()
        elif isinstance(notice, CallFinished):
            self.calls.labels(c, notice.result.outcome.value).inc()

    def exposition(self) -> bytes:
        """The text format a Prometheus server scrapes."""
        return generate_latest(self.registry)

    def app(self) -> web.Application:
        """``GET /metrics`` for Prometheus; serve it with ``dialer.http_site.HttpSite``."""

        async def scrape(request: web.Request) -> web.Response:
            return web.Response(body=self.exposition(), headers={"Content-Type": CONTENT_TYPE})

        app = web.Application()
        app.add_routes([web.get("/metrics", scrape)])
        return app


class _RunnerGauges(Collector):
    """Gauges read from the runners at scrape time."""

    def __init__(self, runners: dict[CampaignId, CampaignRunner]) -> None:
        self._runners = runners

    def collect(self) -> Iterator[GaugeMetricFamily]:
        agents = GaugeMetricFamily("dialer_agents", "Agents by state", labels=["campaign", "state"])
        in_flight = GaugeMetricFamily(
            "dialer_calls_in_flight",
            "Calls ringing, in detection, waiting or with an agent",
            labels=["campaign"],
        )
        level = GaugeMetricFamily(
            "dialer_dial_level",
            "Calls in flight per agent taking calls (VICIdial's dial level)",
            labels=["campaign"],
        )
        rate = GaugeMetricFamily(
            "dialer_abandon_rate",
            "Abandoned / (abandoned + connected) live answers this run (ratio 0..1)",
            labels=["campaign"],
        )
        target = GaugeMetricFamily(
            "dialer_abandon_target", "The campaign's abandon ceiling (ratio)", labels=["campaign"]
        )
        for campaign, runner in list(self._runners.items()):
            counts = runner.counts_by_state()
            for state in AgentState:
                agents.add_metric([campaign, state.value], counts.get(state, 0))
            taking = sum(
                counts.get(s, 0)
                for s in (
                    AgentState.READY,
                    AgentState.RESERVED,
                    AgentState.ON_CALL,
                    AgentState.WRAPUP,
                )
            )
            flying = runner.calls_in_flight
            in_flight.add_metric([campaign], flying)
            level.add_metric([campaign], flying / taking if taking else 0.0)
            rate.add_metric([campaign], runner.stats.abandon_rate)
            target.add_metric([campaign], runner.settings.abandon_target)
        yield from (agents, in_flight, level, rate, target)
