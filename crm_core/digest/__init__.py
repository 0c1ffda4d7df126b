"""The daily digest: its content as plain data, and the claims that make each one go out once."""
