"""The GitHub client: ``GitHubClient`` (github.com, Enterprise, a local forge),
and where its token comes from (``token_from_env``), which the command shares."""

from prplan.forges.github.app_auth import APP_VARIABLES, AppSettings, app_settings
from prplan.forges.github.auth import TOKEN_VARIABLES, TokenWarning, token_from_env
from prplan.forges.github.client import DEFAULT_API_URL, GitHubClient

__all__ = [
    "APP_VARIABLES",
    "AppSettings",
    "GitHubClient",
    "DEFAULT_API_URL",
    "TOKEN_VARIABLES",
    "TokenWarning",
    "app_settings",
    "token_from_env",
]
