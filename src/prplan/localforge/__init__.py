"""The local forge: GitHub's rules in process (``LocalForge``)."""

from ._forge import HUMAN, LocalForge

__all__ = ["LocalForge", "HUMAN"]
