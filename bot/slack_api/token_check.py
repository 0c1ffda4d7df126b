"""Asking Slack, before serving, whether it takes the tokens: a first deployment's two usual mistakes.

A mistyped or revoked token and a network (or ``SLACK_API_URL``) that does not reach Slack would
otherwise surface inside Bolt's start-up as an "unexpected" error. ``check_tokens`` says which
variable or address is wrong and what to do; its messages never carry a token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.log_lines import printable
from bot.slack_api.web_api import make_web_client
from crm_core.config import Settings

BOT_TOKEN_ADVICE = (
    "copy the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page into "
    "SLACK_BOT_TOKEN; reinstall the app to the workspace if it was removed or the token revoked"
)
APP_TOKEN_ADVICE = (
    "make an app-level token (xapp-…) with the connections:write scope under Basic Information → "
    "App-Level Tokens, turn Socket Mode on, and set it as SLACK_APP_TOKEN (or unset SLACK_APP_TOKEN "
    "to serve HTTP)"
)

# slack_sdk logs each failed attempt as an ERROR with a traceback-like text; the one line that
# ``check_tokens`` raises says it better, so the check's client keeps quiet.
_QUIET = logging.getLogger(__name__ + ".client")
_QUIET.setLevel(logging.CRITICAL)


class SlackUnusable(Exception):
    """Slack cannot be used with these settings; the message says why and what to do."""


def check_tokens(settings: Settings) -> None:
    """The bot token through ``auth.test`` and, for Socket Mode, the app-level token through
    ``apps.connections.open`` (the call Socket Mode starts with; the URL it issues goes unused)."""
    client = make_web_client(settings, logger=_QUIET)
    _ask(client.base_url, "SLACK_BOT_TOKEN", BOT_TOKEN_ADVICE, client.auth_test)
    app_token = settings.slack_app_token
    if app_token:
        _ask(
            client.base_url,
            "SLACK_APP_TOKEN",
            APP_TOKEN_ADVICE,
            lambda: client.apps_connections_open(app_token=app_token),
        )


def _ask(base_url: str, variable: str, advice: str, call: Callable[[], SlackResponse]) -> None:
    try:
        call()
    except SlackApiError as error:
        status = error.response.status_code
        if status != 200:  # Slack refuses tokens with 200; this is another server, or Slack's trouble
            raise SlackUnusable(
                f"{base_url} answered HTTP {status}, not as Slack's Web API does: check SLACK_API_URL "
                "(unset, it is Slack's own), or try again if https://status.slack.com reports trouble"
            ) from None
        code = printable(error.response.get("error"))
        raise SlackUnusable(f"Slack rejected {variable} ({code}): {advice}") from None
    except OSError as error:  # refused, unresolvable, timed out, TLS: after the client's retries
        reason = getattr(error, "reason", None) or error
        raise SlackUnusable(
            f"cannot reach Slack at {base_url} ({printable(reason)}): check the network or SLACK_API_URL"
        ) from None
