"""Fakes only tests need (they rely on dev extras): the Socket Mode WebSocket server."""
