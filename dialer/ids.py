"""Identifiers shared by every layer. Plain strings at run time, distinct to mypy."""

from __future__ import annotations

from typing import NewType

CallId = NewType("CallId", str)
AgentId = NewType("AgentId", str)
LeadId = NewType("LeadId", str)
CampaignId = NewType("CampaignId", str)
