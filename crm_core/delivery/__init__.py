"""Exactly-once posting of what the bot sends on its own (digests, channel alerts): claims in the store."""
