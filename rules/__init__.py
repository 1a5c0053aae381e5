"""The contact policy (pure): may we dial this lead's phone now; if not, why and when.

Calling windows in the debtor's local time, DNC, attempt caps (per day, and Reg F's
7-in-7 and post-conversation rules), retry delays by outcome, the 72-hour rule after an
abandoned call, callbacks and promise-to-pay follow-ups, and lead priority. See
docs/rules.md.
"""

from rules.facts import AttemptFact, CallbackFact, LeadFacts, PhoneFacts, PromiseFact
from rules.follow_ups import FollowUp, due_callbacks, follow_up_at, follow_ups, needs_follow_up
from rules.policy import ContactPolicy, explain
from rules.priority import PriorityWeights, priority
from rules.settings import (
    DEFAULT_CONTACT_LIMITS,
    DEFAULT_RETRY_DELAYS,
    ContactLimits,
    PolicySettings,
)
from rules.verdict import RuleCheck, Verdict
from rules.windows import COUNTRY_WINDOWS, FALLBACK_WINDOWS, CallingWindows

__all__ = [
    "COUNTRY_WINDOWS",
    "DEFAULT_CONTACT_LIMITS",
    "DEFAULT_RETRY_DELAYS",
    "FALLBACK_WINDOWS",
    "AttemptFact",
    "CallbackFact",
    "CallingWindows",
    "ContactLimits",
    "ContactPolicy",
    "FollowUp",
    "LeadFacts",
    "PhoneFacts",
    "PolicySettings",
    "PriorityWeights",
    "PromiseFact",
    "RuleCheck",
    "Verdict",
    "due_callbacks",
    "explain",
    "follow_up_at",
    "follow_ups",
    "needs_follow_up",
    "priority",
]
