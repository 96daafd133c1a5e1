"""Qala: an open smart-city platform for the cities of Kazakhstan."""

__version__ = "0.1.0"
