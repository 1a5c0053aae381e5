"""Agents: the agent state machine and routing. Pure: no asyncio, no IO, no clock."""
