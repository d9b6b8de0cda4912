"""Bare Django: ``startproject`` middleware, no observability."""

from benchproj.base import *  # noqa: F403
