"""What the scheduler runs: digests to people's DMs, the trend chart they carry, and the scheduler itself."""
