"""The GitHub client: ``GitHubClient`` (github.com, Enterprise, a local forge),
and where its token comes from (``token_from_env``), which the command shares."""

from prplan.forges.github.auth import TOKEN_VARIABLES, TokenWarning, token_from_env
from prplan.forges.github.client import DEFAULT_API_URL, GitHubClient

__all__ = ["GitHubClient", "DEFAULT_API_URL", "TOKEN_VARIABLES", "TokenWarning", "token_from_env"]
