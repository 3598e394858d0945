"""Errors of the mapping layer."""

from __future__ import annotations


class InvalidBundle(ValueError):
    """The request's data is not a Bundle holding exactly one Patient."""


class InvalidCodeSets(ValueError):
    """A code-set file cannot be read."""
