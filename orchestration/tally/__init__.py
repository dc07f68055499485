"""Tally: usage-based billing as dbt models."""

__version__ = "0.1.0"
