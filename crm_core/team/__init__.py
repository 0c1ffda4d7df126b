"""The team: who uses crm-bot, in which role, time zone and language, and when they want the digest."""
