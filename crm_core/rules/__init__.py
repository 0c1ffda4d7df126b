"""Follow-up rules: follow-ups the team never has to remember to set."""
