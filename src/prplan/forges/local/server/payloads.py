"""GitHub's JSON shapes for the local forge's REST server.

Each builder returns what GitHub returns for that object: every field its
OpenAPI schema requires (the contract tests check it), with URLs built from
the server's own base URL. PyGithub refuses URLs that do not share the host,
port and path prefix of the base URL it was given, so nothing here may
hard-code ``api.github.com``.

Values GitHub derives from data prplan's forge does not have (stars, forks,
avatars) are fixed, harmless placeholders.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import attrs
from dulwich.objects import Blob
from dulwich.objects import Commit as GitCommit

__all__ = ["Urls", "iso", "node_id", "numeric_id"]

JSON = dict[str, Any]
EPOCH_ISO = "1970-01-01T00:00:00Z"


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def numeric_id(*parts: object) -> int:
    """A stable positive id from a name (GitHub ids are integers)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:6], "big")


def node_id(kind: str, *parts: object) -> str:
    return base64.b64encode(f"{kind}:{'/'.join(map(str, parts))}".encode()).decode()


def _person(raw: bytes, when: int) -> JSON:
    text = raw.decode("utf-8", "replace")
    name, _, email = text.partition(" <")
    return {"name": name, "email": email.rstrip(">"), "date": iso(when)}


def _verification(commit: GitCommit) -> JSON:
    """A commit the forge signed, as GitHub shows its own signatures."""
    return {
        "verified": True,
        "reason": "valid",
        "signature": "-----BEGIN PGP SIGNATURE-----\n\nlocal forge\n-----END PGP SIGNATURE-----\n",
        "payload": commit.as_raw_string().decode("utf-8", "replace"),
        "verified_at": iso(commit.commit_time),
    }


_USER_LINKS = {
    "followers_url": "/followers",
    "following_url": "/following{/other_user}",
    "gists_url": "/gists{/gist_id}",
    "starred_url": "/starred{/owner}{/repo}",
    "subscriptions_url": "/subscriptions",
    "organizations_url": "/orgs",
    "repos_url": "/repos",
    "events_url": "/events{/privacy}",
    "received_events_url": "/received_events",
}

_REPO_LINKS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


@attrs.frozen
class Urls:
    """The server's addresses: ``api`` (e.g. ``http://127.0.0.1:8765/api/v3``)
    and ``web`` (``http://127.0.0.1:8765/``)."""

    api: str
    web: str

    # --- users ---------------------------------------------------------------

    def user(self, login: str) -> JSON:
        out: JSON = {
            "login": login,
            "id": numeric_id("user", login),
            "node_id": node_id("User", login),
            "avatar_url": f"{self.web}avatars/{login}",
            "gravatar_id": "",
            "url": f"{self.api}/users/{login}",
            "html_url": f"{self.web}{login}",
            "type": "Bot" if login.endswith("[bot]") else "User",  # a GitHub App's bot
            "site_admin": False,
        }
        for key, suffix in _USER_LINKS.items():
            out[key] = f"{self.api}/users/{login}{suffix}"
        return out

    def private_user(self, login: str) -> JSON:
        out = self.user(login)
        out.update(
            name=login, company=None, blog="", location=None, email=None, hireable=None,
            bio=None, public_repos=0, public_gists=0, followers=0, following=0,
            created_at=EPOCH_ISO, updated_at=EPOCH_ISO, collaborators=0, disk_usage=0,
            owned_private_repos=0, private_gists=0, total_private_repos=0,
            two_factor_authentication=False,
        )  # fmt: skip
        return out

    # --- repositories -------------------------------------------------------------

    def repository(self, full_name: str, default_branch: str) -> JSON:
        owner, name = full_name.split("/")
        api = f"{self.api}/repos/{full_name}"
        out: JSON = {
            "id": numeric_id("repo", full_name),
            "node_id": node_id("Repository", full_name),
            "name": name,
            "full_name": full_name,
            "owner": self.user(owner),
            "private": False,
            "html_url": f"{self.web}{full_name}",
            "description": None,
            "fork": False,
            "url": api,
            "clone_url": f"{self.web}{full_name}.git",
            "git_url": f"{self.web}{full_name}.git",
            "ssh_url": f"{self.web}{full_name}.git",
            "svn_url": f"{self.web}{full_name}",
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0, "watchers_count": 0,
            "size": 0, "open_issues": 0, "open_issues_count": 0,
            "network_count": 0, "subscribers_count": 0,
            "default_branch": default_branch,
            "has_issues": False, "has_projects": False, "has_wiki": False, "has_pages": False,
            "has_downloads": False, "has_discussions": False,
            "archived": False, "disabled": False,
            "license": None,
            "pushed_at": EPOCH_ISO, "created_at": EPOCH_ISO, "updated_at": EPOCH_ISO,
            "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
            "allow_merge_commit": True, "allow_squash_merge": True, "allow_rebase_merge": True,
            "delete_branch_on_merge": False,
            "visibility": "public",
        }  # fmt: skip
        for key, suffix in _REPO_LINKS.items():
            out[key] = api + suffix
        return out

    # --- git objects ----------------------------------------------------------------

    def git_ref(self, repo: str, ref: str, sha: str) -> JSON:
        return {
            "ref": ref,
            "node_id": node_id("Ref", repo, ref),
            "url": f"{self.api}/repos/{repo}/git/{ref}",
            "object": {
                "type": "commit",
                "sha": sha,
                "url": f"{self.api}/repos/{repo}/git/commits/{sha}",
            },
        }

    def _git_object(self, repo: str, kind: str, sha: str) -> JSON:
        """The ``sha``, ``node_id`` and ``url`` of a git object (``kind``: Commit or Blob)."""
        return {
            "sha": sha,
            "node_id": node_id(kind, repo, sha),
            "url": f"{self.api}/repos/{repo}/git/{kind.lower()}s/{sha}",
        }

    def git_commit(self, repo: str, commit: GitCommit, *, verified: bool = False) -> JSON:
        """``verified``: the forge signed it (GraphQL's createCommitOnBranch)."""
        sha = commit.id.decode()
        return {
            **self._git_object(repo, "Commit", sha),
            "html_url": f"{self.web}{repo}/commit/{sha}",
            "author": _person(commit.author, commit.author_time),
            "committer": _person(commit.committer, commit.commit_time),
            "message": commit.message.decode("utf-8", "replace"),
            "tree": {"sha": commit.tree.decode(), "url": f"{self.api}/repos/{repo}/git/trees/{commit.tree.decode()}"},
            "parents": [
                {
                    "sha": p.decode(),
                    "url": f"{self.api}/repos/{repo}/git/commits/{p.decode()}",
                    "html_url": f"{self.web}{repo}/commit/{p.decode()}",
                }
                for p in commit.parents
            ],
            "verification": _verification(commit) if verified else {
                "verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None,
            },
        }  # fmt: skip

    def commit(
        self,
        repo: str,
        commit: GitCommit,
        files: list[JSON] | None = None,
        *,
        verified: bool = False,
    ) -> JSON:
        """The ``commit`` shape (REST commits, compare): a git commit wrapped
        with GitHub's links."""
        sha = commit.id.decode()
        inner = self.git_commit(repo, commit, verified=verified)
        out: JSON = {
            "url": f"{self.api}/repos/{repo}/commits/{sha}",
            "sha": sha,
            "node_id": node_id("Commit", repo, sha),
            "html_url": f"{self.web}{repo}/commit/{sha}",
            "comments_url": f"{self.api}/repos/{repo}/commits/{sha}/comments",
            "commit": {
                "url": inner["url"],
                "author": inner["author"],
                "committer": inner["committer"],
                "message": inner["message"],
                "comment_count": 0,
                "tree": inner["tree"],
                "verification": inner["verification"],
            },
            "author": None,
            "committer": None,
            "parents": [
                {
                    "sha": p.decode(),
                    "url": f"{self.api}/repos/{repo}/commits/{p.decode()}",
                    "html_url": f"{self.web}{repo}/commit/{p.decode()}",
                }
                for p in commit.parents
            ],
        }
        if files is not None:
            out["files"] = files
            out["stats"] = {
                "additions": sum(f["additions"] for f in files),
                "deletions": sum(f["deletions"] for f in files),
                "total": sum(f["changes"] for f in files),
            }
        return out

    def tree(self, repo: str, sha: str, entries: list[JSON], truncated: bool = False) -> JSON:
        return {
            "sha": sha,
            "url": f"{self.api}/repos/{repo}/git/trees/{sha}",
            "tree": entries,
            "truncated": truncated,
        }

    def tree_entry(
        self, repo: str, path: str, mode: int, kind: str, sha: str, size: int | None
    ) -> JSON:
        section = "blobs" if kind == "blob" else "trees" if kind == "tree" else "commits"
        out: JSON = {
            "path": path,
            "mode": f"{mode:06o}",
            "type": kind,
            "sha": sha,
            "url": f"{self.api}/repos/{repo}/git/{section}/{sha}",
        }
        if size is not None:
            out["size"] = size
        return out

    def blob(self, repo: str, blob: Blob) -> JSON:
        return {
            **self._git_object(repo, "Blob", blob.id.decode()),
            "size": len(blob.data),
            "content": base64.b64encode(blob.data).decode() + "\n",
            "encoding": "base64",
        }

    def short_blob(self, repo: str, sha: str) -> JSON:
        return {"sha": sha, "url": f"{self.api}/repos/{repo}/git/blobs/{sha}"}

    def diff_entry(
        self, repo: str, ref: str, path: str, status: str, sha: str, additions: int, deletions: int
    ) -> JSON:
        return {
            "sha": sha,
            "filename": path,
            "status": status,
            "additions": additions,
            "deletions": deletions,
            "changes": additions + deletions,
            "blob_url": f"{self.web}{repo}/blob/{ref}/{path}",
            "raw_url": f"{self.web}{repo}/raw/{ref}/{path}",
            "contents_url": f"{self.api}/repos/{repo}/contents/{path}?ref={ref}",
        }

    def content_file(self, repo: str, path: str, ref: str, blob: Blob) -> JSON:
        sha = blob.id.decode()
        api = f"{self.api}/repos/{repo}/contents/{path}?ref={ref}"
        git = f"{self.api}/repos/{repo}/git/blobs/{sha}"
        html = f"{self.web}{repo}/blob/{ref}/{path}"
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(blob.data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": base64.b64encode(blob.data).decode() + "\n",
            "sha": sha,
            "url": api,
            "git_url": git,
            "html_url": html,
            "download_url": f"{self.web}{repo}/raw/{ref}/{path}",
            "_links": {"self": api, "git": git, "html": html},
        }

    def content_item(self, repo: str, path: str, ref: str, kind: str, sha: str, size: int) -> JSON:
        api = f"{self.api}/repos/{repo}/contents/{path}?ref={ref}"
        section = "blobs" if kind == "file" else "trees"
        git = f"{self.api}/repos/{repo}/git/{section}/{sha}"
        html = f"{self.web}{repo}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
        return {
            "type": kind,
            "size": size,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": api,
            "git_url": git,
            "html_url": html,
            "download_url": f"{self.web}{repo}/raw/{ref}/{path}" if kind == "file" else None,
            "_links": {"self": api, "git": git, "html": html},
        }

    # --- branches, comparisons --------------------------------------------------------

    def branch(self, repo: str, name: str, head: GitCommit, *, protected: bool = False) -> JSON:
        return {
            "name": name,
            "commit": self.commit(repo, head),
            "_links": {
                "self": f"{self.api}/repos/{repo}/branches/{name}",
                "html": f"{self.web}{repo}/tree/{name}",
            },
            "protected": protected,
            "protection": {"enabled": protected},
            "protection_url": f"{self.api}/repos/{repo}/branches/{name}/protection",
        }

    # --- pull requests ----------------------------------------------------------------

    def pull_request(
        self,
        repo: str,
        default_branch: str,
        row: JSON,
        *,
        base_sha: str,
        full: bool,
        author: str,
        merged_by: str,
        stats: tuple[int, int, int, int] | None = None,
    ) -> JSON:
        """``pull-request-simple`` (list items) or ``pull-request`` (``full``).
        ``author``: the login that opened it; ``merged_by``: the login that
        merged it (if merged). ``stats``: (commits, additions, deletions,
        changed files)."""
        repository = self.repository(repo, default_branch)
        out: JSON = {
            **self._pull_urls(repo, row["number"], row["head_sha"]),
            "number": row["number"],
            "state": row["state"],
            "locked": False,
            "title": row["title"],
            "user": self.user(author),
            "body": row["body"] or None,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
            "closed_at": iso(row["closed_at"]),
            "merged_at": iso(row["merged_at"]),
            "merge_commit_sha": row["merge_sha"],
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self._pull_side(repository, row["head"], row["head_sha"]),
            "base": self._pull_side(repository, row["base"], base_sha),
            "_links": self._pull_links(repo, row["number"], row["head_sha"]),
            "author_association": "OWNER",
            "auto_merge": None,
            "draft": False,
        }
        if full:
            out.update(self._pull_details(row, merged_by, stats))
        return out

    def _pull_urls(self, repo: str, number: int, head_sha: str) -> JSON:
        """A pull request's ids and the URLs of what belongs to it."""
        api = f"{self.api}/repos/{repo}"
        html = f"{self.web}{repo}/pull/{number}"
        return {
            "url": f"{api}/pulls/{number}",
            "id": numeric_id("pull", repo, number),
            "node_id": node_id("PullRequest", repo, number),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{number}",
            "commits_url": f"{api}/pulls/{number}/commits",
            "review_comments_url": f"{api}/pulls/{number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{number}/comments",
            "statuses_url": f"{api}/statuses/{head_sha}",
        }

    def _pull_links(self, repo: str, number: int, head_sha: str) -> JSON:
        """A pull request's hypermedia ``_links``."""
        api = f"{self.api}/repos/{repo}"
        return {
            "self": {"href": f"{api}/pulls/{number}"},
            "html": {"href": f"{self.web}{repo}/pull/{number}"},
            "issue": {"href": f"{api}/issues/{number}"},
            "comments": {"href": f"{api}/issues/{number}/comments"},
            "review_comments": {"href": f"{api}/pulls/{number}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/pulls/{number}/commits"},
            "statuses": {"href": f"{api}/statuses/{head_sha}"},
        }

    def _pull_side(self, repository: JSON, ref: str, sha: str) -> JSON:
        """A pull request's ``head`` or ``base``: a branch of ``repository``."""
        owner = repository["owner"]["login"]
        return {
            "label": f"{owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(owner),
            "repo": repository,
        }

    def _pull_details(
        self, row: JSON, merged_by: str, stats: tuple[int, int, int, int] | None
    ) -> JSON:
        """What the full ``pull-request`` adds to a list item."""
        commits, additions, deletions, changed = stats or (0, 0, 0, 0)
        merged = bool(row["merged"])
        return {
            "merged": merged,
            "mergeable": None if row["state"] != "open" else True,
            "rebaseable": None if row["state"] != "open" else True,
            "mergeable_state": "clean" if row["state"] == "open" else "unknown",
            "merged_by": self.user(merged_by) if merged else None,
            "comments": 0,
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": commits,
            "additions": additions,
            "deletions": deletions,
            "changed_files": changed,
        }

    # --- errors and odds and ends ------------------------------------------------------

    def error(self, message: str, errors: list[JSON] | list[str] | None = None) -> JSON:
        out: JSON = {"message": message, "documentation_url": "https://docs.github.com/rest"}
        if errors is not None:
            out["errors"] = errors
        return out

    def rate_limit(self, limit: int, remaining: int, reset: int) -> JSON:
        one = {"limit": limit, "remaining": remaining, "reset": reset, "used": limit - remaining}
        return {
            "resources": {"core": dict(one), "search": dict(one), "graphql": dict(one)},
            "rate": dict(one),
        }
