"""Telephony: the port the engine talks to, its events, and the backends' shared helpers."""
