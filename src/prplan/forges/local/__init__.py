"""The local forge: GitHub's rules in process (``LocalForge``)."""

from prplan.forges.local.forge import HUMAN, LocalForge

__all__ = ["LocalForge", "HUMAN"]
