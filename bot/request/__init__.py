"""One Slack request as a handler sees it: who asks (people, roles), its Slack thread, its errors."""
