"""Routes for repositories, branches, file contents, commits and comparisons.

GitHub's ``repos/{owner}/{repo}``, ``branches``, ``contents`` (read, and the
one-file commits of PUT and DELETE), ``commits/{ref}`` and ``compare``: the
endpoints that show a repository's files and history rather than git objects
(``git``) or pull requests (``pulls``).
"""

from __future__ import annotations

from typing import Any

from dulwich.objects import Blob
from werkzeug.wrappers import Request

from prplan.forges.local.server import routes
from prplan.forges.local.server.payloads import Urls
from prplan.forges.local.server.routes import Answer, Fail, Routes, invalid
from prplan.forges.local.trees import tree_path_problem

__all__ = ["RepoRoutes"]


class RepoRoutes(Routes):
    """A repository, its branches, its contents, its commits and comparisons."""

    def _h_repo(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, default = self._target(owner, name)
        return 200, urls.repository(repo, default), None

    def _h_branch(self, request: Request, urls: Urls, owner: str, name: str, branch: str) -> Answer:
        repo, _ = self._target(owner, name)
        sha = self.forge.branches(repo).get(branch)
        if sha is None:
            raise Fail(404, "Branch not found")
        # GitHub's ``protected``: the REST client reads "no merge queue" from false
        protected = self.forge.branch_protection(repo, branch) is not None
        return (
            200,
            urls.branch(repo, branch, self._commit_obj(repo, sha), protected=protected),
            None,
        )

    # --- contents, commits, compare -------------------------------------------------------

    def _h_contents_root(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        return self._h_contents(request, urls, owner, name, "")

    def _h_contents(self, request: Request, urls: Urls, owner: str, name: str, path: str) -> Answer:
        repo, default = self._target(owner, name)
        ref = request.args.get("ref") or default
        commit = self._commit_obj(repo, ref)
        if path == "":
            entries = self.forge.git_tree_entries(repo, commit.tree.decode(), recursive=False)
        else:
            entries = [e for e in self.forge.git_tree_entries(repo, commit.tree.decode(), recursive=True)
                       if e.path == path or e.path.startswith(path + "/")]  # fmt: skip
        exact = next((e for e in entries if e.path == path), None)
        if exact is not None and exact.type == "blob":
            blob = self.forge.git_object(repo, exact.sha)
            assert isinstance(blob, Blob)
            return 200, urls.content_file(repo, path, ref, blob), None
        children = [
            e
            for e in entries
            if e.path != path and "/" not in e.path[len(path) + 1 if path else 0 :]
        ]
        if not children:
            raise Fail(404, "Not Found")
        listing = [
            urls.content_item(
                repo, e.path, ref, "file" if e.type == "blob" else "dir", e.sha, e.size or 0
            )
            for e in children
        ]
        return 200, listing, None

    def _file_write(
        self, request: Request, owner: str, name: str, path: str, *, delete: bool
    ) -> tuple[str, str, str, dict[str, Any], str | None]:
        """Checks shared by PUT and DELETE of one file: one commit per file,
        with the blob sha as precondition. (repo, branch, head, body, current sha)"""
        repo, default = self._target(owner, name)
        why = tree_path_problem(path)
        if why is not None:
            raise invalid(f"path {path!r} {why}", "Content", "path")
        body = self._body(request)
        branch = self._text(body, "branch", "Content", default=default)
        message = body.get("message")
        if not isinstance(message, str):
            raise invalid("message is required", "Content", "message", "missing_field")
        routes.check_message(message, "Content")
        head = self.forge.branches(repo).get(branch)
        if head is None:
            raise Fail(404, f"Branch {branch} not found")
        current = self.forge.blob_shas(repo, head, [path])[path]
        given = body.get("sha")
        if delete or current is not None:
            if not isinstance(given, str):
                raise invalid('"sha" was not supplied.', "Content", "sha", "missing_field")
            if given != current:
                raise Fail(409, f"{path} does not match {given}")
        return repo, branch, head, body, current

    def _h_delete_contents(
        self, request: Request, urls: Urls, owner: str, name: str, path: str
    ) -> Answer:
        repo, branch, head, body, _ = self._file_write(request, owner, name, path, delete=True)
        sha = self.forge.commit_on_branch(repo, branch, head, {path: None}, body["message"])
        return (
            200,
            {"content": None, "commit": urls.git_commit(repo, self._commit_obj(repo, sha))},
            None,
        )

    def _h_put_contents(
        self, request: Request, urls: Urls, owner: str, name: str, path: str
    ) -> Answer:
        repo, branch, head, body, current = self._file_write(
            request, owner, name, path, delete=False
        )
        content = routes.base64_content(self._text(body, "content", "Content"), "Content")
        sha = self.forge.commit_on_branch(repo, branch, head, {path: content}, body["message"])
        blob = Blob.from_string(content)
        answer = {
            "content": urls.content_file(repo, path, branch, blob),
            "commit": urls.git_commit(repo, self._commit_obj(repo, sha)),
        }
        return (201 if current is None else 200), answer, None

    def _h_commit(self, request: Request, urls: Urls, owner: str, name: str, ref: str) -> Answer:
        repo, _ = self._target(owner, name)
        commit = self._commit_obj(repo, ref)
        parent = commit.parents[0].decode() if commit.parents else None
        files = self._files(repo, urls, parent, commit.id.decode()) if parent else []
        verified = self.forge.is_verified(repo, commit.id.decode())
        return 200, urls.commit(repo, commit, files, verified=verified), None

    def _h_compare(
        self, request: Request, urls: Urls, owner: str, name: str, basehead: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        base_ref, sep, head_ref = basehead.partition("...")
        if not sep:
            raise Fail(404, "Not Found")
        base, head = self._commit_obj(repo, base_ref), self._commit_obj(repo, head_ref)
        comparison = self.forge.compare_commits(repo, base.id.decode(), head.id.decode())
        merge_base = self._commit_obj(repo, comparison.merge_base_sha or base.id.decode())
        commits = [
            urls.commit(repo, self._commit_obj(repo, c.sha)) for c in comparison.commits[:250]
        ]
        html = f"{urls.web}{repo}/compare/{basehead}"
        body = {
            "url": f"{urls.api}/repos/{repo}/compare/{basehead}",
            "html_url": html,
            "permalink_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "base_commit": urls.commit(repo, base),
            "merge_base_commit": urls.commit(repo, merge_base),
            "status": comparison.status,
            "ahead_by": comparison.ahead_by,
            "behind_by": comparison.behind_by,
            "total_commits": comparison.ahead_by,
            "commits": commits,
            "files": self._files(repo, urls, merge_base.id.decode(), head.id.decode()),
        }
        return 200, body, None
