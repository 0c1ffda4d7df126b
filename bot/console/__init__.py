"""``crm-bot console``: the product in a terminal, driving the real app through a local Slack."""
