"""The end-to-end fixtures of ``tests/bot``: a fake Slack and the real app served over HTTP."""

from tests.bot.conftest import clock, listeners, sender, server, settings, slack  # noqa: F401
