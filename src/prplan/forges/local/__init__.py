"""The local forge: GitHub's rules in process (``LocalForge``).

``LocalForge`` loads on first use (it brings dulwich and SQLite): the command
imports this package for ``HUMAN`` whatever it is about to do."""

from typing import TYPE_CHECKING, Any

from prplan.forges.local.identity import HUMAN

if TYPE_CHECKING:
    from prplan.forges.local.forge import LocalForge

__all__ = ["LocalForge", "HUMAN"]


def __getattr__(name: str) -> Any:
    if name == "LocalForge":
        from prplan.forges.local.forge import LocalForge

        return LocalForge
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
