"""Facts about one HTTP request: is it a probe, its id, client address, user, response headers, streaming body."""
