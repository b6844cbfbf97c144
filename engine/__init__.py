"""Forestall: a proactive next-best-action decision engine."""

__version__ = "0.1.0"
