"""The GitHub client: ``GitHubClient`` (github.com, Enterprise, a local forge)."""

from ._client import DEFAULT_API_URL, GitHubClient

__all__ = ["GitHubClient", "DEFAULT_API_URL"]
