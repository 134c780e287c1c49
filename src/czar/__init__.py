"""czar: supervise a team of AI coding agents working one plan on one git repository."""

__version__ = "0.1.0"
