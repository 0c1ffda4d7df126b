"""How requests reach the app and answers leave it: HTTP server, worker processes, Web API client."""
