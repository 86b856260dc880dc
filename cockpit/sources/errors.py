"""What a poll raises when it has no usable value: every source kind uses these."""

from __future__ import annotations


class SourceError(Exception):
    """A poll that gave no usable value; ``str()`` is the reason."""


class NoData(SourceError):
    """The source answered, with nothing to report (an empty Prometheus result): never zero."""
