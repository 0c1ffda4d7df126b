"""Read models that span nouns: the profile card, its channel-safe form, a customer's audit trail."""
