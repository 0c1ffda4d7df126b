"""Calling Slack: the retrying Web API client and response-URL poster, and the start-up token check."""
