"""``/crm segment``: a campaign list, counted in the reply and sent as a CSV file to the asker's DM.

The file goes to the DM, never to the channel the command was typed in: it holds contact details,
and a channel may hold guests. It is UTF-8 with a byte-order mark, so a spreadsheet opens Japanese
names as they are; its cells are formula-safe (``crm_core.campaigns.lists``).
"""

from __future__ import annotations

import io
import re

from bot.blocks.limits import escape
from bot.parsing.grammar import ME, Segment
from bot.request.user_request import UserRequest
from bot.slack_api.web_api import upload_file
from crm_core.campaigns.lists import CampaignList, campaign_list, write_csv


def send_campaign_list(request: UserRequest) -> None:
    command = request.parsed(Segment)
    today = request.today()
    campaign = campaign_list(
        request.session,
        actor=request.actor,
        name=command.name,
        owner_id=request.user_id if command.owner == ME else command.owner,
        tag=command.tag,
        today=today,
    )
    name = escape(campaign.name)
    if not campaign.rows:
        request.reply(request.t("campaign.empty", name=name))
        return
    request.reply(request.t("campaign.sent", count=len(campaign.rows), name=name))
    filename = f"crm-{_slug(campaign.name)}-{today.isoformat()}.csv"
    comment = request.t("campaign.file_comment", count=len(campaign.rows), name=name, date=today.isoformat())
    request.send(lambda: _upload(request, campaign, filename, comment))


def _upload(request: UserRequest, campaign: CampaignList, filename: str, comment: str) -> None:
    text = io.StringIO()
    write_csv(campaign, text)
    dm = request.client.conversations_open(users=request.user_id)["channel"]["id"]
    upload_file(
        request.client,
        channel=dm,
        content=text.getvalue().encode("utf-8-sig"),
        filename=filename,
        title=filename,
        initial_comment=comment,
    )


def _slug(name: str) -> str:
    """ "Can't Lose Them" → "cant-lose-them": a file name any system takes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("'", "")).strip("-")
