"""What was acknowledged to Slack, kept in the store until a worker has answered it."""
