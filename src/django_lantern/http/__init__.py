"""Facts about one HTTP request: is it a probe, its id, its client address and user, its response headers, a streaming body."""
