"""Dialer engine: the asyncio shell (campaign runner, CLI, storage, metrics).

This package's ``ids`` and ``errors`` modules are dependency-free so the pure
packages (``pacing``, ``agents``, ``rules``) may import them; importing
``dialer`` itself must stay free of side effects and of IO imports.
"""
