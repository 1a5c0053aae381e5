"""Pacing: how many calls to place now. Pure: no asyncio, no IO, no clock.

Every pacer implements ``pacing.base.Pacer``: it is told what a real dialer can see
(``PacingSnapshot``) and what happened (``Observation``) and answers with a
``PacingDecision``. ``pacing.registry`` builds one by name.
"""
