"""Customers: creating, reading, updating and merging the one record per real customer."""
