"""Identify: one record per real customer, found forgivingly from whatever people type."""
