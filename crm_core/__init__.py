"""The CRM domain: store, customers, timeline, follow-ups and analytics. Knows nothing of Slack."""
