"""The call-traffic simulator: the engine's telephony port on synthetic traffic, in
virtual time, plus the scenario file format (``../shared/SCENARIOS.md``)."""
