"""Routes for git's data: refs, blobs, trees and commits.

GitHub's Git Data API (``git/refs``, ``git/blobs``, ``git/trees``,
``git/commits``): what prplan writes a change through, object by object.
The parsing of a tree entry, a commit's author and its dates lives here with
the routes that take them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from dulwich.objects import Blob, Tree
from dulwich.objects import Commit as GitCommit
from werkzeug.wrappers import Request

from prplan import errors
from prplan.forges.local.server import routes
from prplan.forges.local.server.payloads import JSON, Urls
from prplan.forges.local.server.routes import Answer, Fail, Routes, bot_identity, invalid
from prplan.forges.local.trees import GIT_MODES, HEX_SHA, TreeInput, tree_input_problems

__all__ = ["GitRoutes"]


class GitRoutes(Routes):
    """Refs, blobs, trees and commits, as GitHub's Git Data API serves them."""

    # --- refs ------------------------------------------------------------------------------

    def _h_get_ref(self, request: Request, urls: Urls, owner: str, name: str, ref: str) -> Answer:
        repo, _ = self._target(owner, name)
        full = f"refs/{ref}"
        sha = self.forge.refs(repo).get(full)
        if sha is None:
            raise Fail(404, "Not Found")
        return 200, urls.git_ref(repo, full, sha), None

    def _h_matching_refs(
        self, request: Request, urls: Urls, owner: str, name: str, ref: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        refs = self.forge.refs(repo, f"refs/{ref}")
        return 200, [urls.git_ref(repo, r, sha) for r, sha in sorted(refs.items())], None

    def _h_create_ref(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not isinstance(sha, str):
            raise invalid("ref and sha are required", "Reference", "ref", "missing_field")
        self._sha(sha, "Reference", "sha")
        try:
            self.forge.create_ref(repo, ref, sha)
        except errors.NotFoundError:
            raise Fail(422, "Object does not exist") from None
        return 201, urls.git_ref(repo, ref, sha), {"Location": f"{urls.api}/repos/{repo}/git/{ref}"}

    def _h_delete_ref(
        self, request: Request, urls: Urls, owner: str, name: str, ref: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        full = f"refs/{ref}"
        if full not in self.forge.refs(repo):
            raise Fail(422, "Reference does not exist")
        if not full.startswith("refs/heads/"):
            raise Fail(422, "prplan's forge deletes branches only")
        self.forge.remove_branch(repo, full[len("refs/heads/") :])
        return 204, None, None

    def _h_update_ref(
        self, request: Request, urls: Urls, owner: str, name: str, ref: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        full = f"refs/{ref}"
        body = self._body(request)
        sha = self._sha(self._text(body, "sha", "Reference"), "Reference", "sha")
        force = body.get("force", False)
        if not isinstance(force, bool):
            raise invalid("force must be true or false", "Reference", "force")
        self.forge.update_ref(repo, full, sha, force=force)
        return 200, urls.git_ref(repo, full, sha), None

    # --- git objects ----------------------------------------------------------------------

    def _h_create_blob(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        content = body.get("content")
        encoding = self._text(body, "encoding", "Blob", default="utf-8")
        if not isinstance(content, str):
            raise invalid("content is required", "Blob", "content", "missing_field")
        if encoding == "base64":
            data = routes.base64_content(content, "Blob")
        elif encoding in {"utf-8", "utf8"}:
            data = content.encode("utf-8")
        else:
            raise invalid(f"encoding {encoding!r} is not utf-8 or base64", "Blob", "encoding")
        sha = self.forge.git_create_blob(repo, data)
        return 201, urls.short_blob(repo, sha), None

    def _h_blob(self, request: Request, urls: Urls, owner: str, name: str, sha: str) -> Answer:
        repo, _ = self._target(owner, name)
        obj = self.forge.git_object(repo, sha)
        if not isinstance(obj, Blob):
            raise Fail(422, f"{sha} is not a blob")
        return 200, urls.blob(repo, obj), None

    def _h_create_tree(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        entries = body.get("tree")
        if not isinstance(entries, list):
            raise invalid("tree is required", "Tree", "tree", "missing_field")
        base_tree = self._optional_text(body, "base_tree", "Tree")
        inputs, problems = [], []
        for index, entry in enumerate(entries):
            parsed = _tree_input(index, entry)
            if isinstance(parsed, TreeInput):
                inputs.append(parsed)
                problems += tree_input_problems(index, parsed)
            else:
                problems += parsed
        if problems:  # every entry's problems at once, before anything is stored
            raise errors.InvalidRequestError(problems, what="tree")
        sha = self.forge.git_create_tree(repo, inputs, base_tree)
        return 201, self._tree_json(repo, urls, sha, recursive=False), None

    def _tree_json(self, repo: str, urls: Urls, sha: str, *, recursive: bool) -> JSON:
        obj = self.forge.git_object(repo, sha)
        tree_sha = obj.tree.decode() if isinstance(obj, GitCommit) else sha
        entries = [
            urls.tree_entry(repo, e.path, e.mode, e.type, e.sha, e.size)
            for e in self.forge.git_tree_entries(repo, tree_sha, recursive=recursive)
        ]
        return urls.tree(repo, tree_sha, entries)

    def _h_tree(self, request: Request, urls: Urls, owner: str, name: str, sha: str) -> Answer:
        repo, _ = self._target(owner, name)
        sha = self.forge.branches(repo).get(sha, sha)  # GitHub takes a branch name here too
        if not isinstance(self.forge.git_object(repo, sha), Tree | GitCommit):
            raise Fail(422, f"{sha} is not a tree")
        recursive = request.args.get("recursive", "") not in {"", "0", "false"}
        return 200, self._tree_json(repo, urls, sha, recursive=recursive), None

    def _h_create_commit(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
        if (
            not isinstance(message, str)
            or not isinstance(tree, str)
            or not isinstance(parents, list)
        ):
            raise invalid("message and tree are required", "Commit", "message", "missing_field")
        for index, parent in enumerate(parents):
            if not isinstance(parent, str) or not HEX_SHA.fullmatch(parent):
                raise invalid(f"parents[{index}] must be a 40-hex commit sha", "Commit", "parents")
        self._sha(tree, "Commit", "tree")
        routes.check_message(message, "Commit")
        bot = bot_identity(self._who(request))  # an App's bot commits as itself
        who = _identity(body, "author") or bot
        _identity(body, "committer")  # checked as GitHub does; the forge commits as itself
        sha = self.forge.git_create_commit(
            repo,
            message=message,
            tree=tree,
            parents=parents,
            author=who,
            author_date=_date(body, "author"),
            commit_date=_date(body, "committer"),
            committer=bot,
        )
        signed = bot is not None and who == bot  # an App's own commit: GitHub signs it
        if signed:
            self.forge.mark_verified(repo, sha)
        return 201, urls.git_commit(repo, self._commit_obj(repo, sha), verified=signed), None

    def _h_git_commit(
        self, request: Request, urls: Urls, owner: str, name: str, sha: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        commit = self._commit_obj(repo, sha)
        verified = self.forge.is_verified(repo, commit.id.decode())
        return 200, urls.git_commit(repo, commit, verified=verified), None


def _tree_input(index: int, entry: object) -> TreeInput | list[errors.Problem]:
    """One entry of ``POST git/trees`` as GitHub takes it: ``path``, ``mode``
    (a string, one of git's five), ``type`` (optional, but it must agree with
    the mode) and exactly one of ``content`` or ``sha`` (null deletes)."""
    where = f"tree[{index}]"
    if not isinstance(entry, dict):
        return [errors.Problem(where, "must be an object with path, mode, type and sha or content")]
    problems = []
    path, mode_text, kind = entry.get("path"), entry.get("mode", "100644"), entry.get("type")
    if not isinstance(path, str):
        problems.append(errors.Problem(f"{where}.path", "is required and must be a string"))
    mode = int(mode_text, 8) if isinstance(mode_text, str) and re.fullmatch(r"0?[0-7]{6}", mode_text) else None  # fmt: skip
    if mode is None or mode not in GIT_MODES:
        problems.append(
            errors.Problem(
                f"{where}.mode",
                f"{mode_text!r} is not one of '100644', '100755', '120000', '040000', '160000'",
            )
        )
    elif kind is not None and kind != GIT_MODES[mode]:
        problems.append(
            errors.Problem(
                f"{where}.type", f"{kind!r} does not match mode {mode_text} (a {GIT_MODES[mode]})"
            )
        )
    content, sha = entry.get("content"), entry.get("sha")
    if "content" not in entry and "sha" not in entry:
        problems.append(errors.Problem(where, "give content, or sha (null deletes the path)"))
    if content is not None and not isinstance(content, str):
        problems.append(errors.Problem(f"{where}.content", "must be a string"))
    if sha is not None and not isinstance(sha, str):
        problems.append(errors.Problem(f"{where}.sha", "must be a string, or null to delete"))
    if problems or not isinstance(path, str) or mode is None:
        return problems
    return TreeInput(
        path=path,
        mode=mode,
        sha=sha if isinstance(sha, str) else None,
        content=content.encode("utf-8") if isinstance(content, str) else None,
    )


def _date(body: dict[str, Any], key: str) -> tuple[int, int] | None:
    """``author.date``/``committer.date`` (ISO 8601, GitHub's
    ``YYYY-MM-DDTHH:MM:SSZ`` or with an offset) as git stores it: (seconds
    since the epoch, offset in seconds). A date git cannot write (before
    1970, an offset that is not whole minutes) is refused, never dropped."""
    person = body.get(key)
    value = person.get("date") if isinstance(person, dict) else None
    if value is None:
        return None
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # no offset given: UTC, as GitHub reads it
    offset = None if moment is None else moment.utcoffset()
    if moment is None or offset is None or offset.total_seconds() % 60:
        raise invalid(
            f"{key}.date {value!r} is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SSZ or with an "
            "offset of whole minutes, like +02:00)",
            "Commit",
            f"{key}.date",
        )
    if moment < datetime(1970, 1, 1, tzinfo=UTC):
        raise invalid(
            f"{key}.date {value!r} is before 1970-01-01, which git cannot store",
            "Commit",
            f"{key}.date",
        )
    return int(moment.timestamp()), int(offset.total_seconds())


def _identity(body: dict[str, Any], key: str) -> str | None:
    """A commit's ``author``/``committer`` as git writes it, ``Name <email>``;
    GitHub needs both, and neither may break the commit header."""
    person = body.get(key)
    if person is None:
        return None
    fields = person if isinstance(person, dict) else {}
    name, email = fields.get("name"), fields.get("email")
    for field, value in (("name", name), ("email", email)):
        if not isinstance(value, str) or not value.strip() or re.search(r"[<>\x00\n]", value):
            raise invalid(
                f"{key}.{field} is required: a non-empty string without '<', '>' or a newline",
                "Commit",
                f"{key}.{field}",
                "missing_field" if value is None else "invalid",
            )
    return f"{name} <{email}>"
