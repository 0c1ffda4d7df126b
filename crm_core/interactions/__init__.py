"""The timeline: every touch point with a customer, whoever logged it and wherever."""
