"""The audit trail: who read or changed which customer. Ids only, never personal data."""
