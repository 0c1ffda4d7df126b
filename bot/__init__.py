"""The Slack layer: the Bolt app (app.py), listeners per Slack surface, Block Kit renderers,
message catalogues, scheduled jobs, the console and the crm-bot CLI."""
