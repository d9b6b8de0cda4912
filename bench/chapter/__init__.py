"""The chapter's own code (Chapter 21, listings 21.4.1 to 21.5), re-implemented faithfully.

Kept as the chapter wrote it, thread-local storage, untrusted header and all, so
the benchmark measures what a reader of the chapter would deploy. Only the
import paths differ (``config.`` becomes ``chapter.``) and type hints were added.
"""
