"""``GitHubClient``'s writes through GitHub's GraphQL API (``transport="graphql"``).

* a commit: one query reads the repository's node id and the parent's
  directories on the way to each changed path (a read), from which the new
  tree is predicted (``tree_prediction``) and sealed into the message; then
  one document writes it (a write): ``createRef`` at the parent then
  ``createCommitOnBranch(expectedHeadOid: parent)`` for a new branch,
  ``updateRefs(beforeOid, afterOid: parent, force)`` then the commit for a
  reset, the commit alone for a fast-forward. GitHub's tree is checked
  against the prediction. A commit GraphQL cannot make as prplan means it
  (a mode other than 100644, over ``GRAPHQL_COMMIT_LIMIT`` bytes) returns
  None: the client commits through REST (the Git Data API) instead.
* ``createPullRequest``; ``mergePullRequest(expectedHeadOid)`` for a pull
  request this client opened (its node id is known; another is merged
  through REST, which names the expected head too); a branch deleted by
  ``updateRefs`` from exactly the head prplan last knew (``beforeOid``).

Errors are read per field (GitHub runs every top-level mutation field in
order, each with its own result or error) and become prplan's: ``STALE_DATA``
(a compare-and-swap lost) is ``ConflictError``; ``NOT_FOUND`` is
``NotFoundError``; anything else a ``ForgeError``. A write whose answer was
lost and whose POST was sent again (PyGithub retries a POST on 5xx) finds its
own work done: it is recognised by reading back and adopted, as REST does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Protocol

from prplan.core.snapshot import PullRequestInfo, seal_message
from prplan.core.writer import GRAPHQL_COMMIT_BYTES
from prplan.errors import (
    ConflictError,
    ForgeError,
    InvalidRequestError,
    MergeBlocked,
    NotFoundError,
    Problem,
)
from prplan.forges.github import graphql_documents as documents
from prplan.forges.github.answers import base_was_modified, merge_tries
from prplan.forges.github.graphql_reads import MAX_DOCUMENT_BYTES, MAX_LOOKUPS, document_bytes
from prplan.forges.github.transport import Transport
from prplan.forges.github.tree_prediction import (
    Listing,
    directories_on_the_way,
    listing_of,
    predict_tree,
)

__all__ = ["GRAPHQL_COMMIT_LIMIT", "TRANSPORTS", "GraphQLWrites", "transport_name"]

#: A commit carrying more file content than this (bytes, before base64) goes
#: through REST: base64 makes it a third larger, and GitHub refuses GraphQL
#: requests past roughly 40 MB.
GRAPHQL_COMMIT_LIMIT = GRAPHQL_COMMIT_BYTES  # the plan predicts with the same limit

#: ``GitHubClient(transport=...)``.
TRANSPORTS = ("rest", "graphql")


def transport_name(transport: str) -> str:
    """``transport`` checked: "rest" or "graphql"."""
    if transport not in TRANSPORTS:
        raise InvalidRequestError(
            [Problem("transport", f"{transport!r}: give one of {', '.join(TRANSPORTS)}")]
        )
    return transport


class _Rest(Protocol):
    """What the GraphQL writes fall back on: the client's REST reads."""

    def branch_sha(self, repo: str, branch: str) -> str | None: ...

    def _adopt_pull(self, repo: str, head: str, base: str, title: str) -> PullRequestInfo: ...

    def _merged_sha(self, repo: str, number: int, head_sha: str) -> str | None: ...

    def _answered_by(self, identity: str | None) -> None: ...


def _typed(problem: dict[str, Any], text: str) -> Exception:
    """A field's error as prplan's: ``text`` says what it means for prplan."""
    kind = problem.get("type")
    if kind == "STALE_DATA":
        return ConflictError(text)
    if kind == "NOT_FOUND":
        return NotFoundError(text)
    status = {"FORBIDDEN": 403, "UNPROCESSABLE": 422}.get(str(kind))
    return ForgeError(text, status=status)


def _by_field(problems: list[dict[str, Any]], what: str) -> dict[str, dict[str, Any]]:
    """Errors keyed by their top-level field; an error of the document
    itself (no path: it did not run) fails at once."""
    out: dict[str, dict[str, Any]] = {}
    for problem in problems:
        path = problem.get("path") or []
        if not path:
            raise ForgeError(
                f"{what}: GitHub refused the GraphQL document: {problem.get('message')}"
            )
        out.setdefault(str(path[0]), problem)
    return out


def _message(problem: dict[str, Any]) -> str:
    return f"{problem.get('type') or 'error'}: {problem.get('message') or ''}"


def _commit_variables(
    repo: str,
    branch: str,
    parent_sha: str,
    files: Mapping[str, bytes | None],
    message: str,
    predicted: str,
) -> dict[str, Any]:
    """``createCommitOnBranch``'s variables: the message sealed with the
    predicted tree (GitHub joins headline and body with a blank line)."""
    headline, _, body = seal_message(message, predicted).partition("\n")
    return {
        "repository": repo, "branch": branch, "expectedHeadOid": parent_sha,
        "headline": headline, "body": body.strip("\n") or None,
        "additions": [
            {"path": path, "contents": base64.b64encode(content).decode("ascii")}
            for path, content in files.items() if content is not None
        ],
        "deletions": [{"path": path} for path, content in files.items() if content is None],
    }  # fmt: skip


def _sent_message(variables: Mapping[str, Any]) -> str:
    """The message a commit made from ``variables`` has (GitHub joins the
    headline and a body with a blank line)."""
    body = variables.get("body")
    return str(variables["headline"]) + (f"\n\n{body}" if body else "")


class GraphQLWrites:
    """The GraphQL half of ``GitHubClient``'s writes (see the module doc)."""

    def __init__(self, http: Transport, rest: _Rest) -> None:
        self._http = http
        self._rest = rest
        self._repository_ids: dict[str, str] = {}
        #: (repo, number) -> (node id, head branch) of pull requests opened here.
        self._pulls: dict[tuple[str, int], tuple[str, str]] = {}
        #: (repo, branch) -> the head prplan last made or merged.
        self._heads: dict[tuple[str, str], str] = {}
        #: (repo, commit) -> directory -> listing, as observe read them.
        self._directories: dict[tuple[str, str], dict[str, Listing]] = {}

    @property
    def known_pulls(self) -> Mapping[tuple[str, int], tuple[str, str]]:
        """(repo, number) -> (node id, head branch) of the pull requests opened here."""
        return self._pulls

    def learn(
        self, repo: str, *, repository_id: str, commit: str, directories: Mapping[str, Listing]
    ) -> None:
        """What observe's query already read (the repository's node id, and
        directories at a commit, absent ones as None): a commit on that
        commit whose directories are all known then reads nothing first."""
        self._repository_ids[repo] = repository_id
        self._directories.setdefault((repo, commit), {}).update(directories)

    def _post(self, what: str, query: str, variables: dict[str, Any], *, mutation: bool) -> Any:
        with self._http.errors(what):
            data, problems = self._http.graphql(query, variables, mutation=mutation)
        return data, _by_field(problems, what)

    def _repository_id(self, repo: str) -> str:
        known = self._repository_ids.get(repo)
        if known is None:
            owner, name = repo.split("/", 1)
            what = f"reading repository {repo}"
            data, _ = self._post(
                what, documents.BRANCH_HEAD, {"owner": owner, "name": name, "ref": "-"},
                mutation=False,
            )  # fmt: skip
            if not (data.get("repository") or {}).get("id"):
                raise NotFoundError(f"{what}: not found (or the token cannot see it)")
            known = self._repository_ids[repo] = str(data["repository"]["id"])
        return known

    # --- commits ---------------------------------------------------------------------

    def _listings(self, repo: str, parent_sha: str, paths: list[str]) -> dict[str, Listing] | None:
        """The parent's directories on the way to ``paths`` (one query),
        None when one of them is a file or the query would be over
        ``MAX_LOOKUPS`` or ``MAX_DOCUMENT_BYTES``."""
        directories = directories_on_the_way(paths)
        known = self._directories.get((repo, parent_sha), {})
        if repo in self._repository_ids and all(d in known for d in directories):
            return {d: known[d] for d in directories}  # observe read them: no request
        owner, name = repo.split("/", 1)
        document = documents.directories_document(owner, name, parent_sha, directories)
        if len(directories) > MAX_LOOKUPS or document_bytes(document) > MAX_DOCUMENT_BYTES:
            return None  # a query too large to send: REST commits it
        what = f"reading the tree of {parent_sha[:7]} in {repo}"
        data, failed = self._post(what, document.text, document.variables, mutation=False)
        found = data.get("repository") or {}
        if failed or not found.get("id") or found.get("dir0") is None:
            problem = next(
                iter(failed.values()), {"type": "NOT_FOUND", "message": "no such commit"}
            )
            raise _typed(problem, f"{what}: {_message(problem)}")
        self._repository_ids[repo] = str(found["id"])
        listings: dict[str, Listing] = {}
        for index, directory in enumerate(directories):
            listing = listing_of(found.get(f"dir{index}"))
            if listing is False:
                return None
            listings[directory] = listing if isinstance(listing, dict) else None
        return listings

    def commit_files(
        self,
        repo: str,
        branch: str,
        *,
        parent_sha: str,
        files: Mapping[str, bytes | None],
        message: str,
        create: bool,
        reset_from: str | None,
    ) -> str | None:
        """``ForgeClient.commit_files`` in one mutation, or None: REST must."""
        if sum(len(content or b"") for content in files.values()) > GRAPHQL_COMMIT_LIMIT:
            return None
        listings = self._listings(repo, parent_sha, list(files))
        predicted = None if listings is None else predict_tree(listings, files)
        if predicted is None:
            return None
        variables = _commit_variables(repo, branch, parent_sha, files, message, predicted)
        ref = f"refs/heads/{branch}"
        query = documents.COMMIT_ON_BRANCH
        if create:
            query = documents.WRITE_BRANCH_AND_COMMIT
            variables.update(repositoryId=self._repository_id(repo), ref=ref, oid=parent_sha)
        elif reset_from is not None:
            query = documents.RESET_BRANCH_AND_COMMIT
            variables.update(
                repositoryId=self._repository_id(repo), ref=ref, beforeOid=reset_from, oid=parent_sha
            )  # fmt: skip
        what = f"committing {len(files)} file(s) to {branch} in {repo}"
        data, failed = self._post(what, query, variables, mutation=True)
        made = (data.get("commit") or {}).get("commit")
        if "commit" in failed or not made:
            meant = (parent_sha, predicted, _sent_message(variables))
            return self._commit_failed(repo, branch, meant, failed, create, reset_from)
        if "branch" in failed:  # the branch was someone else's, and the commit landed on it
            raise self._taken_back(repo, branch, str(made["oid"]), parent_sha, reset_from)
        if (made.get("tree") or {}).get("oid") != predicted:
            raise ForgeError(
                f"{what}: GitHub made commit {made['oid'][:7]} with tree "
                f"{(made.get('tree') or {}).get('oid')} where prplan predicted {predicted} and "
                "sealed it so: prplan will count it as someone else's. Commit through REST "
                "(transport='rest') and report this."
            )
        committer = made.get("committer") or {}
        self._rest._answered_by(
            f"{committer['name']} <{committer['email']}>" if committer.get("email")
            else committer.get("name") or None
        )  # fmt: skip
        self._heads[(repo, branch)] = str(made["oid"])
        return str(made["oid"])

    def _commit_failed(
        self,
        repo: str,
        branch: str,
        meant: tuple[str, str, str],
        failed: dict[str, dict[str, Any]],
        create: bool,
        reset_from: str | None,
    ) -> str:
        """The commit field failed: its own answer lost (adopted), the ref
        field failed too (this attempt changed nothing; a commit of prplan's
        from an earlier attempt whose answer was lost may be on the branch),
        or the ref moved and the commit failed (the branch is at the parent:
        a re-run goes on). ``meant``: the commit's parent, predicted tree and
        message."""
        parent_sha = meant[0]
        commit_problem = failed.get("commit") or {"type": "INTERNAL", "message": "no commit"}
        moved = commit_problem.get("type") == "STALE_DATA"
        adopted = self._own_head(repo, branch, meant) if moved else None
        if adopted is not None:
            self._heads[(repo, branch)] = adopted
            self._rest._answered_by(None)  # the answer naming the committer was lost
            return adopted
        branch_problem = failed.get("branch")
        if branch_problem is not None or not (create or reset_from):
            problem = branch_problem or commit_problem
            verb = "create" if create else "reset" if reset_from else "commit on"
            unchanged = (
                "nothing was changed by this attempt (a commit of prplan's from an earlier "
                "attempt whose answer was lost may be on the branch). Run prplan again."
            )
            if create and "already exists" in str(problem.get("message")):
                raise ConflictError(
                    f"{repo}: branch {branch!r} already exists (someone created it, or an "
                    f"earlier attempt did); {unchanged}"
                )
            raise _typed(
                problem,
                f"{repo}: could not {verb} branch {branch!r} ({_message(problem)}); {unchanged}",
            )
        done = "created" if create else f"reset from {reset_from[:7] if reset_from else ''}"
        raise _typed(
            commit_problem,
            f"{repo}: branch {branch!r} was {done} at {parent_sha[:7]}, but the commit on it "
            f"failed ({_message(commit_problem)}). Run prplan again: it continues from there.",
        )

    def _taken_back(
        self, repo: str, branch: str, made: str, parent_sha: str, reset_from: str | None
    ) -> ConflictError:
        """The ref field failed but the commit landed: someone else created
        the branch (or moved it) at exactly ``parent_sha`` meanwhile, and
        ``made`` is on their branch. Taken back at once with an exact
        compare-and-swap (from ``made`` to ``parent_sha``), so their branch is
        as they made it; the error says whether that worked."""
        whose = (
            "already exists (someone created it)"
            if reset_from is None
            else f"is not at {reset_from[:7]} any more (someone moved it meanwhile)"
        )
        try:
            problem = self._update_ref(repo, branch, made, parent_sha)
        except (ForgeError, ConflictError, NotFoundError) as error:
            problem = {"type": type(error).__name__, "message": str(error)}
        if problem is None:
            return ConflictError(
                f"{repo}: branch {branch!r} {whose}; prplan's commit {made[:7]} landed on it and "
                f"was taken back at once: the branch is at {parent_sha[:7]} again, as they made it. "
                "Run prplan again."
            )
        return ConflictError(
            f"{repo}: branch {branch!r} {whose}; prplan's commit {made[:7]} landed on it and "
            f"could not be taken back ({_message(problem)}: someone pushed on top since). Nothing "
            f"of theirs is lost; remove {made[:7]} from {branch!r} by hand if it must not be there."
        )

    def _own_head(self, repo: str, branch: str, meant: tuple[str, str, str]) -> str | None:
        """The branch's head when it is the commit this write meant: the
        predicted tree on the parent with the sealed message sent (a retried
        POST that had succeeded). The same tree on the same parent under
        another message is someone else's commit (a human pushed what prplan
        meant to): never adopted as prplan's."""
        parent_sha, predicted, message = meant
        owner, name = repo.split("/", 1)
        variables = {"owner": owner, "name": name, "ref": f"refs/heads/{branch}"}
        data, _ = self._post(
            f"reading branch {branch} of {repo}", documents.BRANCH_HEAD, variables, mutation=False
        )
        head = ((data.get("repository") or {}).get("ref") or {}).get("target") or {}
        parents = [p.get("oid") for p in ((head.get("parents") or {}).get("nodes") or [])]
        if (
            (head.get("tree") or {}).get("oid") == predicted
            and parents == [parent_sha]
            and str(head.get("message") or "").rstrip("\n") == message.rstrip("\n")
        ):
            return str(head["oid"])
        return None

    # --- refs ------------------------------------------------------------------------

    def _update_ref(self, repo: str, branch: str, before: str, after: str) -> dict[str, Any] | None:
        """``updateRefs`` from exactly ``before``; the field's error, if any."""
        update = {
            "name": f"refs/heads/{branch}",
            "beforeOid": before,
            "afterOid": after,
            "force": True,
        }
        variables = {"repositoryId": self._repository_id(repo), "refUpdates": [update]}
        _, failed = self._post(
            f"updating branch {branch} of {repo}", documents.UPDATE_REFS, variables, mutation=True
        )
        problem: dict[str, Any] | None = failed.get("updateRefs")
        return problem

    def create_branch(self, repo: str, branch: str, sha: str) -> None:
        variables = {
            "repositoryId": self._repository_id(repo),
            "ref": f"refs/heads/{branch}",
            "oid": sha,
        }
        what = f"creating branch {branch} in {repo}"
        _, failed = self._post(what, documents.CREATE_REF, variables, mutation=True)
        problem = failed.get("createRef")
        if problem is not None and self._rest.branch_sha(repo, branch) != sha:
            if "already exists" in str(problem.get("message")):
                raise ConflictError(
                    f"{repo}: branch {branch!r} already exists (someone created it)"
                )
            raise _typed(problem, f"{what}: {_message(problem)}")

    def reset_branch(self, repo: str, branch: str, sha: str, *, expected_sha: str) -> None:
        problem = self._update_ref(repo, branch, expected_sha, sha)
        if problem is not None and self._rest.branch_sha(repo, branch) != sha:
            raise _typed(
                problem,
                f"{repo}: branch {branch!r} is not at {expected_sha[:7]} any more (someone pushed "
                f"meanwhile; {_message(problem)}); nothing was changed. Run prplan again.",
            )

    def delete_branch(self, repo: str, branch: str, *, expected_sha: str | None = None) -> None:
        """Deleted only from ``expected_sha``, else the head prplan last made
        or merged there (or, knowing neither, the head read just before): a
        push made since is never deleted with it."""
        before = (
            expected_sha or self._heads.get((repo, branch)) or self._rest.branch_sha(repo, branch)
        )
        if before is None:
            return  # already gone
        problem = self._update_ref(repo, branch, before, documents.ZERO_OID)
        if problem is None:
            self._heads.pop((repo, branch), None)
            return
        now = self._rest.branch_sha(repo, branch)
        if now is None:
            return  # a retried POST that had succeeded
        raise _typed(
            problem,
            f"{repo}: branch {branch!r} is at {now[:7]}, not at {before[:7]} (someone pushed "
            "since); it was not deleted.",
        )

    # --- pull requests ---------------------------------------------------------------

    def create_pull_request(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequestInfo:
        self._rest._answered_by(None)
        variables = {
            "repositoryId": self._repository_id(repo), "base": base, "head": head,
            "title": title, "body": body, "draft": draft,
        }  # fmt: skip
        what = f"opening a pull request {head} -> {base} in {repo}"
        data, failed = self._post(what, documents.CREATE_PULL_REQUEST, variables, mutation=True)
        problem = failed.get("createPullRequest")
        if problem is not None:
            if "already exists" in str(problem.get("message")):
                return self._rest._adopt_pull(repo, head, base, title)
            raise _typed(problem, f"{what}: {_message(problem)}")
        pr = data["createPullRequest"]["pullRequest"]
        self._rest._answered_by((pr.get("author") or {}).get("login"))
        info = documents.pull_request_info(pr)
        self._pulls[(repo, info.number)] = (str(pr["id"]), info.head_branch)
        return info

    def merge_pull_request(
        self, repo: str, number: int, *, method: str, expected_head_sha: str
    ) -> str | None:
        """The merge commit's sha; None for a pull request not opened here
        (its node id unknown): REST merges it, naming the head too."""
        known = self._pulls.get((repo, number))
        if known is None:
            return None
        node, head = known
        variables = {
            "pullRequestId": node, "mergeMethod": method.upper(), "expectedHeadOid": expected_head_sha,
        }  # fmt: skip
        what = f"merging pull request #{number} of {repo}"
        for last in merge_tries(self._http.sleep):
            data, failed = self._post(what, documents.MERGE_PULL_REQUEST, variables, mutation=True)
            problem = failed.get("mergePullRequest")
            if problem is None:
                break
            if base_was_modified(str(problem.get("message"))) and not last:
                continue  # transient on GitHub: try again, as REST does
            merged = self._rest._merged_sha(repo, number, expected_head_sha)
            if merged is not None:
                return merged  # a retried POST: the first one had merged it
            if problem.get("type") == "STALE_DATA":
                raise ConflictError(
                    f"{repo}: #{number}: {problem.get('message')} (its head is no longer the "
                    f"reviewed {expected_head_sha[:7]}); nothing was merged. Run prplan again."
                )
            if problem.get("type") == "UNPROCESSABLE":
                raise MergeBlocked(number, str(problem.get("message")))
            raise _typed(problem, f"{what}: {_message(problem)}")
        pr = data["mergePullRequest"]["pullRequest"]
        self._heads[(repo, head)] = expected_head_sha
        return str(pr["mergeCommit"]["oid"])
