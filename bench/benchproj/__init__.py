"""A tiny Django project, one settings module per benchmarked configuration."""
