"""The work queue reuses the dunning tests' own reminder schedule."""

from tests.dunning.conftest import segment

__all__ = ["segment"]
