"""The topics a channel can subscribe to, as typed after ``/crm subscribe``."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    SUPPORT = "support"  # a support case logged
    VIP_RISK = "vip-risk"  # a VIP newly at churn risk, found by the daily scoring
    WON_BACK = "won-back"  # a customer at risk or churned who came back, found by the daily scoring
    OVERDUE = "overdue"  # a follow-up whose due date passed (once per follow-up)
    NEW_CUSTOMER = "new-customer"  # a customer added one by one (imports are not announced)


TOPICS = tuple(topic.value for topic in Topic)
