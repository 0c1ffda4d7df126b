"""``/crm subscribe``, ``subscriptions`` and ``unsubscribe``: which alerts a channel gets.

Subscribing answers the asker and announces the subscription in the channel itself: the post
shows everyone there what they will see, and is how we learn that the bot is not a member (Slack
answers ``not_in_channel`` or ``channel_not_found``), in which case the asker is told how to invite
it. The subscription is kept either way; alerts start once the bot is in the channel.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.blocks.text import mention
from bot.messages import t
from bot.parsing.grammar import ListSubscriptions, Subscribe, Unsubscribe
from bot.request.user_request import NOT_IN_CHANNEL, UserRequest
from crm_core.alerts.subscriptions import Subscription, channel_subscriptions, subscribe, unsubscribe
from crm_core.errors import InvalidInput


def _channel(request: UserRequest) -> str:
    if not request.channel_id:
        raise InvalidInput("run this command in the channel the alerts are for", key="alerts.no_channel")
    return request.channel_id


def subscribe_channel(request: UserRequest) -> None:
    command = request.parsed(Subscribe)
    channel = _channel(request)
    language = command.language or request.language
    subscription = subscribe(
        request.session,
        actor=request.actor,
        channel_id=channel,
        topic=command.topic,
        owner_id=command.owner_id,
        language=language,
    )
    request.reply(request.t("alerts.subscribed", what=_describe(subscription, request.language)))
    request.send(lambda: _announce(request, subscription))


def _announce(request: UserRequest, subscription: Subscription) -> None:
    language = subscription.language
    text = t(
        language,
        "alerts.announced",
        what=_describe(subscription, language),
        person=mention(subscription.created_by),
    )
    try:
        request.client.chat_postMessage(channel=subscription.channel_id, text=text)
    except SlackApiError as error:
        if error.response.get("error") not in NOT_IN_CHANNEL:
            raise
        request.reply(request.t("alerts.invite_me"))


def list_subscriptions(request: UserRequest) -> None:
    request.parsed(ListSubscriptions)
    found = channel_subscriptions(request.session, actor=request.actor, channel_id=_channel(request))
    if not found:
        request.reply(request.t("alerts.none"))
        return
    lines = "\n".join(f"• {_describe(s, request.language)}" for s in found)
    request.reply(request.t("alerts.list", count=len(found), lines=lines))


def unsubscribe_channel(request: UserRequest) -> None:
    command = request.parsed(Unsubscribe)
    ended = unsubscribe(
        request.session, actor=request.actor, channel_id=_channel(request), topic=command.topic
    )
    key = "alerts.unsubscribed" if ended else "alerts.not_subscribed"
    request.reply(request.t(key, topic=command.topic.value))


def _describe(subscription: Subscription, language: str) -> str:
    """ "`support` alerts of everyone's customers, in English"."""
    whose = (
        t(language, "alerts.of_owner", owner=mention(subscription.owner_id))
        if subscription.owner_id
        else t(language, "alerts.of_everyone")
    )
    return t(
        language,
        "alerts.subscription",
        topic=subscription.topic.value,
        whose=whose,
        lang=t(language, f"language.{subscription.language}"),
    )
