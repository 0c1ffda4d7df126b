"""Follow-ups: promises to get back to a customer, never silently dropped when overdue."""
