"""The Slack layer: Bolt app, listeners, Block Kit renderers, scheduler wiring and the CLI."""
