"""Channel alerts: subscriptions, the events recorded with what caused them, and what is left to post."""
