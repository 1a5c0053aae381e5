"""The store: campaigns, leads, attempts and outcomes in SQLite (default) or PostgreSQL.

Open it with ``store = await Store.open(StoreSettings(url=...))`` (migrations are applied
on open when ``auto_migrate``; ``dialer db upgrade [--db URL]`` applies them explicitly),
close it with ``await store.close()``. Every method is a short transaction of its own and
returns frozen records (``dialer.store.records``). Times in and out are tz-aware (UTC out).

``Store`` methods (all ``async``):

- campaigns: ``create_campaign(name, *, mode, settings, default_region, at)``,
  ``get_campaign(name)``, ``list_campaigns()``, ``set_campaign_status(name, status)``
  (``CampaignStatus``: created/running/paused/stopped), ``update_campaign_settings``;
- leases (scale-out): ``acquire_lease(campaign, owner, *, at, ttl) -> bool`` (take, or renew
  if ours, or take over an expired one), ``release_lease(campaign, owner)``;
- agents: ``create_agent(code, *, name, campaigns) -> (AgentInfo, token)`` (the token is
  shown once, only its hash is stored), ``rotate_token(code) -> token``,
  ``verify_token(token) -> AgentInfo | None``, ``get_agent``, ``list_agents(campaign=None)``,
  ``assign_agent(code, campaign)``, ``set_agent_active(code, active)``;
- leads: ``add_leads(campaign, [NewLead], *, at) -> ids``, ``get_lead(campaign, lead id or
  external id) -> LeadInfo`` (with phones), ``lead_counts(campaign) -> {status: n}``,
  ``lead_facts(lead_id, *, at) -> rules.facts.LeadFacts``, ``set_lead_status``,
  ``set_next_eligible``;
- DNC: ``add_dnc(numbers, *, source, at) -> new count``, ``is_dnc(number)``,
  ``dnc_numbers(numbers) -> set``;
- outcomes: ``record_disposition(lead_id, code, *, agent, call, note, at)``,
  ``add_promise(lead_id, *, amount, due, currency, call, at)``,
  ``set_promise_status(promise_id, status, *, paid_at)``,
  ``add_callback(lead_id, when, *, agent=None, at)``;
- reports: ``attempts(campaign, *, since, until)``, ``dispositions(...)``,
  ``promises(campaign=None, *, lead_id, since, until)``, ``callbacks(lead_id)``,
  ``open_attempts(campaign)``.

Beyond ``Store``: ``dialer.store.outcomes.apply_disposition(store, policy, lead_id,
DispositionInput(code=..., agent=, call=, amount=, due=, callback_at=))`` records a
disposition and applies it (DNC, wrong number, promise, callback, paid; then the rules
reschedule the lead); ``dialer.store.policy_config.policy_for(campaign.settings)`` is the
campaign's ``ContactPolicy``; ``dialer.store.lease.LeaseKeeper`` keeps a campaign's lease;
``dialer.store.importer.import_file`` imports a debtor CSV (``dialer leads import``).
``dialer.store.payments.import_payments`` records a payment CSV and settles the campaign's
promises (``dialer leads payments``; the rule is ``rules.settlement.allocate``).

``StoreLeadSupply`` (``dialer.store.supply``) is the runner's ``dialer.leads.LeadSupply`` on
this store: atomic claims (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite ``BEGIN
IMMEDIATE``), the attempt committed before the originate, crash reconciliation.
"""

from __future__ import annotations

from dialer.store.errors import AlreadyExists, NotFound, StoreError
from dialer.store.models import AttemptState, CampaignStatus, LeadStatus, PromiseStatus
from dialer.store.settings import StoreSettings
from dialer.store.store import Store

__all__ = [
    "AlreadyExists",
    "AttemptState",
    "CampaignStatus",
    "LeadStatus",
    "NotFound",
    "PromiseStatus",
    "Store",
    "StoreError",
    "StoreSettings",
]
