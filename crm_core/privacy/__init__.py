"""Privacy requests: export of everything held about a customer, erasure of their personal data."""
