"""``prplan.compat.add_or_modify_files``: the legacy helper's signature, on a real forge.

The 15 scenarios of the legacy matrix (../shared/legacy/README.md) run through
the drop-in against ``LocalForge`` (and three of them through ``GitHubClient``
over HTTP). Every assertion is about what can be observed afterwards: file
contents on the branch and on base, the pull requests and their titles and
bodies, the commit message, the outcome, the log. The legacy bugs are checked
by name: a crash with no PR (1-4, 14), a change dropped when a PR exists or
was merged (5-12, 15), a merge nobody asked for (6, 8, 10).
"""

from __future__ import annotations

import logging
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import prplan
from prplan.compat import add_or_modify_files
from prplan.core.pull_text import split_body
from prplan.forges.local.server.app import ForgeServer

from served import Served

GitRepo = namedtuple("GitRepo", ["name", "master_branch"])
CommitStore = namedtuple("CommitStore", ["hash", "timestamp"])

REPO = GitRepo("acme/configuration", "main")
BRANCH = "deploy/app"
IDENTITY = "deploy-bot/app-1.4.2"
SOURCE = CommitStore("3f9c2e1d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e", "2024-05-01T12:00:00+00:00")
EXTRA = "Requested by the release pipeline, run 4711"
PATH = "values.yaml"
OLD = "replicas: 1\n"
NEW = "replicas: 2\n"
EARLIER = "An earlier pull request"  # the title of a pull request opened before the call

ROOT = Path(__file__).resolve().parent.parent
S = prplan.OutcomeStatus


@dataclass(frozen=True)
class Case:
    """One legacy scenario and what prplan must leave behind."""

    number: int
    prs: str  # the pull requests before the call: none | open | merged | two open
    create_pr: bool
    automerge: bool
    extra_message: str
    rule: str  # the decision-table rule (specs/decision-table.md, "The legacy scenarios")
    status: prplan.OutcomeStatus | None  # None: RefusedError
    base_updated: bool  # base holds the new content afterwards
    prs_after: tuple[str, ...]  # per PR, by number: "<open|merged> <earlier|new>"


# fmt: off
CASES = (
    Case(1,  "none",     True,  True,  "",    "absent_merge",       S.MERGED,    True,  ("merged new",)),
    Case(2,  "none",     True,  False, "",    "absent_propose",     S.CREATED,   False, ("open new",)),
    Case(3,  "none",     False, True,  "",    "absent_commit_only", S.COMMITTED, False, ()),
    Case(4,  "none",     False, False, "",    "absent_commit_only", S.COMMITTED, False, ()),
    Case(5,  "open",     True,  True,  "",    "open_update_merge",  S.MERGED,    True,  ("merged earlier",)),
    Case(6,  "open",     True,  False, "",    "open_update",        S.UPDATED,   False, ("open earlier",)),
    Case(7,  "open",     False, True,  "",    "open_update_merge",  S.MERGED,    True,  ("merged earlier",)),
    Case(8,  "open",     False, False, "",    "open_update",        S.UPDATED,   False, ("open earlier",)),
    Case(9,  "merged",   True,  True,  "",    "stale_merge",        S.MERGED,    True,  ("merged earlier", "merged new")),
    Case(10, "merged",   True,  False, "",    "stale_propose",      S.CREATED,   False, ("merged earlier", "open new")),
    Case(11, "merged",   False, True,  "",    "stale_commit_only",  S.COMMITTED, False, ("merged earlier",)),
    Case(12, "merged",   False, False, "",    "stale_commit_only",  S.COMMITTED, False, ("merged earlier",)),
    Case(13, "two open", True,  True,  "",    "multiple_open_prs",  None,        False, ("open earlier", "open earlier")),
    Case(14, "none",     True,  True,  EXTRA, "absent_merge",       S.MERGED,    True,  ("merged new",)),
    Case(15, "open",     True,  True,  EXTRA, "open_update_merge",  S.MERGED,    True,  ("merged earlier",)),
)
# fmt: on
BY_NUMBER = {case.number: case for case in CASES}


def legacy(cases: Any = CASES) -> Any:
    return pytest.mark.parametrize("case", cases, ids=lambda c: f"legacy-{c.number}")


# --- set-up ----------------------------------------------------------------------------


def make_forge(prs: str) -> prplan.LocalForge:
    """A repository whose base holds OLD, and the pull requests a scenario starts from.
    An earlier run's change (notes.txt) sits on the branch when there was a PR."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO.name, {PATH: OLD}, default_branch=REPO.master_branch)
    if prs == "none":
        return forge
    # The earlier change is an earlier automated run's (sealed as prplan's):
    # a human's commit on the pull request would stop automerge (see below).
    forge.push(
        REPO.name,
        BRANCH,
        {"notes.txt": "earlier\n"},
        message="An earlier change\n\nPrplan-Request: 0123456789abcdef",
        sealed=True,
    )
    first = forge.open_pr(REPO.name, BRANCH, REPO.master_branch, title=EARLIER)
    if prs == "merged":
        forge.merge_pr(REPO.name, first)
    elif prs == "two open":
        forge.open_pr(REPO.name, BRANCH, REPO.master_branch, title=EARLIER, allow_duplicate=True)
    return forge


def call(
    client: prplan.ForgeClient,
    case: Case,
    files: dict[str, str | None] | None = None,
    *,
    allow_modification: bool = True,
) -> prplan.Outcome:
    return add_or_modify_files(
        client,
        REPO,
        BRANCH,
        SOURCE,
        IDENTITY,
        {PATH: NEW} if files is None else files,
        create_pr=case.create_pr,
        automerge=case.automerge,
        allow_modification=allow_modification,
        extra_message=case.extra_message,
    )


def state(forge: prplan.LocalForge) -> tuple[Any, ...]:
    """Everything a call could write: branches, pull requests (with bodies), base's files."""
    return (
        forge.branches(REPO.name),
        forge.pull_rows(REPO.name),
        forge.files(REPO.name, REPO.master_branch),
    )


def read(forge: prplan.LocalForge, ref: str, path: str = PATH) -> str | None:
    content = forge.read_file(REPO.name, ref, path)
    return None if content is None else content.decode()


def request_id(files: dict[str, str | None] | None = None) -> str:
    """The id prplan writes in its commit trailer for this target and content."""
    return prplan.ChangeRequest(
        repo=REPO.name,
        branch=BRANCH,
        base=REPO.master_branch,
        files={PATH: NEW} if files is None else files,
    ).request_id


class StateAtLog(logging.Handler):
    """Records each message logged on ``prplan.compat`` with the forge's state
    at that moment: proof that the plan is logged before anything is written."""

    def __init__(self, forge: prplan.LocalForge) -> None:
        super().__init__(logging.INFO)
        self.forge = forge
        self.records: list[tuple[str, tuple[Any, ...]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.getMessage(), state(self.forge)))


@pytest.fixture
def watch_log(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.INFO, logger="prplan.compat")
    logger = logging.getLogger("prplan.compat")
    handlers: list[StateAtLog] = []

    def watch(forge: prplan.LocalForge) -> StateAtLog:
        handler = StateAtLog(forge)
        logger.addHandler(handler)
        handlers.append(handler)
        return handler

    yield watch
    for handler in handlers:
        logger.removeHandler(handler)


# --- what every scenario must leave behind -----------------------------------------------


def check_result(
    case: Case, forge: prplan.LocalForge, outcome: prplan.Outcome, before: tuple[Any, ...]
) -> None:
    assert outcome.status is case.status

    # Legacy bugs 1, 2 and 4: the change is never dropped. It is on the branch
    # (which keeps an earlier change on it), and on base when merged.
    assert read(forge, BRANCH) == NEW, "the change was dropped"
    if case.prs != "none":
        assert read(forge, BRANCH, "notes.txt") == "earlier\n"
    assert forge.branches(REPO.name)[BRANCH] == outcome.commit_sha
    # Legacy bug 3: base changes only when automerge asks for it.
    assert read(forge, REPO.master_branch) == (NEW if case.base_updated else OLD)
    if case.base_updated:
        assert outcome.merge_sha is not None
        assert forge.branches(REPO.name)[REPO.master_branch] == outcome.merge_sha

    # The pull requests: the earlier ones reused or left alone, new ones titled
    # with the identity and carrying extra_message as their body.
    earlier = {row["number"] for row in before[1]}
    rows = forge.pull_rows(REPO.name)
    seen = tuple(
        f"{'merged' if row['merged'] else row['state']} "
        f"{'earlier' if row['number'] in earlier else 'new'}"
        for row in rows
    )
    assert seen == case.prs_after
    for row in rows:
        if row["number"] in earlier:
            assert row["title"] == EARLIER, "the reviewers' title is not rewritten"
        else:
            assert IDENTITY in row["title"]
            # (below it, prplan's hidden marker: docs/concepts.md, "Pull
            # requests kept up to date"; GitHub does not render it)
            assert split_body(row["body"])[0] == (case.extra_message or "")
            assert split_body(row["body"])[1] is not None
            assert outcome.pull_request == row["number"]
    if any(row["state"] == "open" for row in rows):
        (open_pr,) = [row for row in rows if row["state"] == "open"]
        assert open_pr["head_sha"] == outcome.commit_sha, "the open PR carries the change"

    # The commit: the identity, the source commit's hash and timestamp, the trailer.
    assert outcome.commit_sha is not None
    message = forge.git_object(REPO.name, outcome.commit_sha).message.decode()
    assert IDENTITY in message.splitlines()[0]
    assert SOURCE.hash in message
    assert SOURCE.timestamp in message
    commit = forge.git_object(REPO.name, outcome.commit_sha)
    assert message.rstrip().splitlines()[-2:] == [
        f"Prplan-Request: {request_id()}",
        f"Prplan-Tree: {commit.tree.decode()}",
    ]


# --- the 15 scenarios on LocalForge ------------------------------------------------------


@legacy()
def test_legacy_scenario(case: Case, watch_log: Any, caplog: pytest.LogCaptureFixture) -> None:
    forge = make_forge(case.prs)
    log = watch_log(forge)
    before = state(forge)

    if case.status is None:  # two open pull requests
        with pytest.raises(prplan.RefusedError) as refused:
            call(forge, case)
        assert "#1" in str(refused.value) and "#2" in str(refused.value)
        assert refused.value.refusal.pull_requests == (1, 2)
        assert state(forge) == before, "nothing is written"
        assert "REFUSED" in caplog.text and case.rule in caplog.text
        return

    outcome = call(forge, case)
    check_result(case, forge, outcome, before)

    # The plan is logged, with its rule and actions, before anything is written.
    first_message, state_then = log.records[0]
    assert case.rule in first_message
    assert "action(s)" in first_message
    assert state_then == before
    assert case.rule in caplog.text
    if case.extra_message:
        assert case.extra_message in caplog.text
    if case.automerge and not case.create_pr and case.prs != "open":
        assert "automerge is ignored" in caplog.text


@legacy()
def test_calling_again_with_the_same_arguments_is_harmless(case: Case) -> None:
    forge = make_forge(case.prs)
    if case.status is None:
        before = state(forge)
        for _ in range(2):
            with pytest.raises(prplan.RefusedError):
                call(forge, case)
        assert state(forge) == before
        return

    first = call(forge, case)
    after_first = state(forge)
    second = call(forge, case)
    assert first.status is case.status
    assert second.status is S.UNCHANGED
    assert state(forge) == after_first, "no second commit, PR or merge"


def rules_in(markdown: str, section: str, column: str) -> dict[int, str]:
    """The scenario number -> rule name of the first table under ``section``,
    read from the column headed ``column``."""
    lines = markdown.split(section, 1)[1].splitlines()
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in lines
        if line.startswith("|")
    ]
    header, index = rows[0], rows[0].index(column)
    assert header[0] == "#"
    return {int(row[0]): row[index].strip("`") for row in rows[2:] if row[0].isdigit()}


def test_the_table_here_is_the_one_in_specs() -> None:
    """The rules asserted above are those specs/decision-table.md gives the legacy scenarios."""
    spec = (ROOT / "specs" / "decision-table.md").read_text()
    assert rules_in(spec, "## The legacy scenarios", "rule") == {c.number: c.rule for c in CASES}


def test_the_migration_guide_agrees_with_specs() -> None:
    """docs/migration.md's scenario table names the same rules as the spec."""
    guide = (ROOT / "docs" / "migration.md").read_text()
    assert rules_in(guide, "## The 15 legacy scenarios", "prplan: rule") == {
        c.number: c.rule for c in CASES
    }


# --- allow_modification, bad input, blocked merges -------------------------------------


def test_allow_modification_false_refuses_to_change_an_existing_file(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="prplan.compat")
    forge = make_forge("none")
    before = state(forge)
    with pytest.raises(prplan.RefusedError) as refused:
        call(forge, BY_NUMBER[1], allow_modification=False)
    assert PATH in str(refused.value)
    assert refused.value.refusal.paths == (PATH,)
    assert state(forge) == before, "nothing is written"
    assert "modification_not_allowed" in caplog.text


def test_allow_modification_false_refuses_to_change_a_file_on_an_open_pr_branch() -> None:
    forge = make_forge("open")
    forge.push(REPO.name, BRANCH, {"new.yaml": "a: 1\n"}, message="Someone adds new.yaml")
    before = state(forge)
    with pytest.raises(prplan.RefusedError) as refused:
        call(forge, BY_NUMBER[6], {"new.yaml": "a: 2\n"}, allow_modification=False)
    assert "new.yaml" in str(refused.value)
    assert state(forge) == before


def test_allow_modification_false_still_adds_new_files_and_accepts_identical_ones() -> None:
    forge = make_forge("none")
    files: dict[str, str | None] = {"apps/new.yaml": "image: app\n", PATH: OLD}
    outcome = call(forge, BY_NUMBER[1], files, allow_modification=False)
    assert outcome.status is S.MERGED
    assert read(forge, REPO.master_branch, "apps/new.yaml") == "image: app\n"
    assert read(forge, REPO.master_branch) == OLD


def test_no_files_is_an_invalid_request_and_writes_nothing() -> None:
    forge = make_forge("open")
    before = state(forge)
    with pytest.raises(prplan.InvalidRequestError) as invalid:
        call(forge, BY_NUMBER[5], {})
    assert [p.field for p in invalid.value.problems] == ["files"]
    assert state(forge) == before


def test_a_blocked_merge_raises_and_leaves_the_change_on_the_open_pr() -> None:
    forge = make_forge("none")
    forge.block_merges(REPO.name, REPO.master_branch, 'Required status check "ci" is expected.')
    with pytest.raises(prplan.PrplanError, match="MergeBlocked"):
        call(forge, BY_NUMBER[1])
    (pr,) = forge.pull_rows(REPO.name)
    assert pr["state"] == "open" and not pr["merged"]
    assert read(forge, BRANCH) == NEW
    assert read(forge, REPO.master_branch) == OLD
    # Once the check passes, the same call finishes the job with the same PR.
    forge.block_merges(REPO.name, REPO.master_branch, None)
    outcome = call(forge, BY_NUMBER[1])
    assert outcome.status is S.MERGED and outcome.pull_request == pr["number"]
    assert read(forge, REPO.master_branch) == NEW


# --- over HTTP, through GitHubClient ---------------------------------------------------


@legacy([BY_NUMBER[6], BY_NUMBER[10], BY_NUMBER[14]])
def test_legacy_scenario_through_github_client(case: Case, forge_server: ForgeServer) -> None:
    forge = make_forge(case.prs)
    served = Served(forge_server, forge)
    before = state(forge)

    outcome = call(served.client, case)
    check_result(case, forge, outcome, before)
    after = state(forge)

    again = call(served.client, case)
    assert again.status is S.UNCHANGED
    assert state(forge) == after
    assert served.violations == []


def test_automerge_never_merges_a_humans_commit_on_the_open_pull_request() -> None:
    """The legacy helper merged whatever the pull request held. prplan refuses
    when someone else's commit is on it, naming the commit, and writes
    nothing; ``merge_foreign_commits=True`` is the explicit way through."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO.name, {PATH: OLD}, default_branch=REPO.master_branch)
    human = forge.push(REPO.name, BRANCH, {"wip.txt": "not yet\n"}, message="WIP, do not merge")
    forge.open_pr(REPO.name, BRANCH, REPO.master_branch, title="Hers")
    before = state(forge)
    with pytest.raises(prplan.RefusedError) as refused:
        call(forge, BY_NUMBER[5])
    assert refused.value.refusal.code is prplan.RefusalCode.MERGE_HAS_FOREIGN_COMMITS
    assert refused.value.refusal.commits == (human,)
    assert "WIP, do not merge" in str(refused.value)
    assert state(forge) == before
    outcome = add_or_modify_files(
        forge, REPO, BRANCH, SOURCE, IDENTITY, {PATH: NEW},
        create_pr=True, automerge=True, allow_modification=True, merge_foreign_commits=True,
    )  # fmt: skip
    assert outcome.status is prplan.OutcomeStatus.MERGED
    assert read(forge, REPO.master_branch, "wip.txt") == "not yet\n"


def test_on_a_protected_base_an_admin_token_does_not_merge_past_a_pending_check() -> None:
    """The legacy call means ``merge_when='now'``: on a protected base the
    gate is read right before the merge, and an administrator's token does
    not bypass it (issue 14's review, finding 4)."""
    forge = make_forge("none")
    forge.protect_branch(REPO.name, REPO.master_branch, required_checks=["ci"])
    forge.set_admin(REPO.name, forge.login)
    with pytest.raises(prplan.PrplanError, match="gate is pending") as blocked:
        call(forge, BY_NUMBER[1])
    assert "ci" in str(blocked.value)
    (pr,) = forge.pull_rows(REPO.name)
    assert pr["state"] == "open" and not pr["merged"]
    assert read(forge, REPO.master_branch) == OLD
