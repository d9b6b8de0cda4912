"""The benchmark runner: in-process workers, HTTP with wrk, scrapes, memory, profiles."""
