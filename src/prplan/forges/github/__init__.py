"""The GitHub client: ``GitHubClient`` (github.com, Enterprise, a local forge)."""

from prplan.forges.github.client import DEFAULT_API_URL, GitHubClient

__all__ = ["GitHubClient", "DEFAULT_API_URL"]
