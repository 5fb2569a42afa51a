"""The hostile review's findings on the pull request's text (issue 15):
prplan's marker counts only where prplan writes it (never in a code block,
never in a human's pull request that copied it), a human's text anywhere
after the marker is kept, a body full of a human's text is left as it is
rather than cut or refused by GitHub, and a request cannot carry prplan's
hidden lines. Over the in-process forge and over HTTP under both transports
where the forge's answers matter (the author of a pull request, the writer's
login); the reading of a body is pure and tested directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import prplan
from prplan.core.actions import UpdatePullRequest
from prplan.core.pr_text import body_full, compose
from prplan.core.pull_text import HUMAN_LINE, marker, split_body
from prplan.core.request import MAX_BODY_CHARS
from prplan.errors import InvalidRequestError
from prplan.forges.local.server.app import ForgeServer
from prplan.run.outcome import OutcomeStatus
from test_pr_uptodate import BRANCH, REPO, _request
from test_pr_uptodate import Setup as _Setup

from served import Served

RID = "0123456789abcdef"


class Setup(_Setup):
    """test_pr_uptodate's runner, with this file's two shortcuts."""

    def row(self, number: int) -> dict[str, object]:
        return dict(self.forge.pull_row(REPO, number))

    def opened_by_prplan(self) -> int:
        number = self.run(_request())[1].pull_request
        assert number is not None
        return number


@pytest.fixture(params=["local", "graphql", "rest"])
def setup(request: pytest.FixtureRequest, forge_server: ForgeServer) -> Iterator[Setup]:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    if request.param == "local":
        yield Setup(forge, forge)
        return
    served = Served(forge_server, forge)
    yield Setup(forge, served.new_client(transport=request.param, retries=3, backoff=0.0))
    assert served.violations == [], "\n".join(served.violations)


@pytest.fixture
def local() -> Setup:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n"})
    return Setup(forge, forge)


# --- 1. the marker counts only where prplan writes it, in prplan's pull request ----------


def test_a_marker_quoted_in_a_code_block_of_a_humans_pull_request_is_not_prplans(
    setup: Setup,
) -> None:
    request = _request(update_pr=True, close_superseded=True, delete_branch=True)
    setup.forge.push(REPO, BRANCH, {"values.yaml": "tag: 2\n"}, message="by hand")
    body = (
        f"How prplan marks its PRs:\n```\n{marker(request.request_id)}\n{HUMAN_LINE}\n```\n"
        "my notes\n"
    )
    number = setup.forge.open_pr(REPO, BRANCH, title="alice", body=body, author="alice")
    plan, _ = setup.run(request)
    assert plan.actions == ()
    assert any("no prplan marker" in note for note in plan.notes)
    assert setup.row(number)["body"] == body and setup.row(number)["title"] == "alice"
    # Base gets the content: close_superseded leaves it open (not prplan's).
    setup.forge.push(REPO, "main", {"values.yaml": "tag: 2\n"}, message="tag 2 on main")
    plan, _ = setup.run(request)
    assert plan.rule == "open_superseded_not_own" and plan.actions == ()
    assert setup.row(number)["state"] == "open"


def test_a_humans_pull_request_with_prplans_lines_copied_is_left_as_it_is(setup: Setup) -> None:
    """alice pasted a whole prplan body (marker and human line, in place)
    into her own pull request on prplan's branch: it is not prplan's, as its
    author is not the login prplan acts as."""
    request = _request(update_pr=True)
    setup.forge.push(REPO, BRANCH, {"values.yaml": "tag: 2\n"}, message="by hand")
    body = f"alice's careful description\n\n{marker(request.request_id)}\n{HUMAN_LINE}\n"
    number = setup.forge.open_pr(REPO, BRANCH, title="alice's title", body=body, author="alice")
    plan, outcome = setup.run(request)
    assert plan.actions == () and outcome.status is OutcomeStatus.UNCHANGED
    (note,) = [n for n in plan.notes if "update_pr" in n]
    assert "opened by alice" in note and "left as they are" in note
    assert setup.row(number)["body"] == body and setup.row(number)["title"] == "alice's title"


def test_close_superseded_leaves_a_humans_pull_request_with_a_copied_marker_open(
    local: Setup,
) -> None:
    request = _request(close_superseded=True, delete_branch=True)
    local.forge.push(REPO, BRANCH, {"values.yaml": "tag: 2\n"}, message="by hand")
    body = f"{marker(request.request_id)}\n{HUMAN_LINE}\n"
    number = local.forge.open_pr(REPO, BRANCH, title="alice", body=body, author="alice")
    local.forge.push(REPO, "main", {"values.yaml": "tag: 2\n"}, message="tag 2 on main")
    plan, _ = local.run(request)
    assert plan.rule == "open_superseded_not_own" and plan.actions == ()
    assert local.row(number)["state"] == "open"
    assert local.forge.branch_sha(REPO, BRANCH) is not None


def test_update_pr_leaves_prplans_pull_request_whose_branch_holds_a_humans_commit(
    local: Setup,
) -> None:
    number = local.opened_by_prplan()
    local.forge.push(REPO, BRANCH, {"notes.txt": "mine\n"}, message="a human's work")
    before = local.row(number)
    plan, _ = local.run(_request(title="tag 2 (prod)", update_pr=True))
    assert not any(isinstance(a, UpdatePullRequest) for a in plan.actions)
    assert any("holds commits prplan did not make" in note for note in plan.notes)
    assert local.row(number)["title"] == before["title"]
    assert local.row(number)["body"] == before["body"]


# --- 2. a human's text anywhere after the marker is kept -----------------------------


def test_a_humans_text_between_the_marker_and_the_line_is_kept(setup: Setup) -> None:
    number = setup.opened_by_prplan()
    mark = marker(_request().request_id)
    body = str(setup.row(number)["body"]).replace(f"{mark}\n", f"{mark}\nHUMAN NOTE\n")
    setup.forge.edit_pull(REPO, number, body=body + "and below\n")
    changed = _request(title="tag 2 (prod)", update_pr=True)
    plan, outcome = setup.run(changed)
    assert [type(a) for a in plan.actions] == [UpdatePullRequest] and outcome.ok
    assert setup.row(number)["body"] == (
        f"Deploys tag 2.\n\n{marker(changed.request_id)}\n{HUMAN_LINE}\nHUMAN NOTE\nand below\n"
    )
    assert setup.run(changed)[0].actions == ()


def test_a_deleted_human_line_is_written_back_above_the_humans_text(local: Setup) -> None:
    number = local.opened_by_prplan()
    body = str(local.row(number)["body"]).replace(f"{HUMAN_LINE}\n", "") + "HUMAN NOTE\r\n"
    local.forge.edit_pull(REPO, number, body=body)
    changed = _request(title="tag 2 (prod)", update_pr=True)
    local.run(changed)
    assert local.row(number)["body"] == (
        f"Deploys tag 2.\n\n{marker(changed.request_id)}\n{HUMAN_LINE}\nHUMAN NOTE\n"
    )


def test_the_last_marker_with_its_line_is_prplans_and_code_blocks_do_not_count() -> None:
    body = (
        f"above\n```\n{marker('aaaa')}\n{HUMAN_LINE}\n```\n"
        f"~~~~ text\n{marker('bbbb')}\n~~~\n{HUMAN_LINE}\n~~~~\n"  # a shorter fence does not close
        f"{marker('cccc')}  \r\n"
        f"between\n{HUMAN_LINE}\n"
        f"notes: {marker('dddd')}\n{marker('eeee')}\n"  # a later marker without its line below
    )
    above, owner, human = split_body(body)
    assert owner == "cccc"
    assert above.startswith("above\n```\n") and above.endswith("~~~~")
    assert human == f"between\nnotes: {marker('dddd')}\n{marker('eeee')}\n"
    # Without any human line, the last marker line counts; an unclosed fence
    # runs to the end.
    assert split_body(f"{marker('aaaa')}\nx\n{marker('bbbb')}\ny")[1:] == ("bbbb", "y")
    assert split_body(f"```\n{marker('aaaa')}\n{HUMAN_LINE}\n")[1] is None
    assert split_body(f"say {marker('aaaa')}\n")[1] is None


# --- 5. a body full of a human's text ------------------------------------------------


def test_a_long_humans_text_cuts_prplans_text_and_stays_within_the_limit(setup: Setup) -> None:
    number = setup.opened_by_prplan()
    body = str(setup.row(number)["body"])
    human = "h" * (MAX_BODY_CHARS - len(body))
    setup.forge.edit_pull(REPO, number, body=body + human)
    request = _request(title="tag 2 prod", body="Deploys tag 2 to prod. " * 3, update_pr=True)
    plan, outcome = setup.run(request)
    assert [type(a) for a in plan.actions] == [UpdatePullRequest]
    assert outcome.ok and any("truncated" in note for note in plan.notes)
    written = str(setup.row(number)["body"])
    assert len(written) <= MAX_BODY_CHARS and written.endswith(f"{HUMAN_LINE}\n{human}")
    assert setup.run(request)[0].actions == ()  # cut the same way: the re-run compares equal


def test_a_body_full_of_a_humans_text_is_left_as_it_is(setup: Setup) -> None:
    """The human deleted prplan's line and filled the body to GitHub's
    limit: writing the line back would take it over, and prplan never cuts a
    human's text, so it writes nothing (GitHub would answer 422)."""
    number = setup.opened_by_prplan()
    body = str(setup.row(number)["body"]).replace(f"{HUMAN_LINE}\n", "")
    full = body + "h" * (MAX_BODY_CHARS - len(body))
    setup.forge.edit_pull(REPO, number, body=full)
    request = _request(title="tag 2 prod", body="Deploys tag 2 to prod.", update_pr=True)
    plan, outcome = setup.run(request)
    assert plan.actions == () and outcome.ok
    assert any("is full" in note and "never cuts a human's text" in note for note in plan.notes)
    assert setup.row(number)["body"] == full and setup.row(number)["title"] == "tag 2"


def test_prplans_text_is_cut_first_and_the_body_never_exceeds_the_limit() -> None:
    suffix = len(f"{marker(RID)}\n{HUMAN_LINE}\n")
    for room in (0, 1, 2, 5, 30, 60, 200):
        human = "h" * (MAX_BODY_CHARS - suffix - room)
        text, left_out = compose("b" * 1000, RID, human)
        assert len(text) <= MAX_BODY_CHARS and text.endswith(human), room
        assert left_out > 0 and not body_full(RID, human)
    assert body_full(RID, "h" * (MAX_BODY_CHARS - suffix + 1))
    # The limit is in characters (code points), as GitHub counts: an astral
    # emoji is one.
    human = "🌈" * (MAX_BODY_CHARS - suffix - 100)
    text, _ = compose("b" * 1000, RID, human)
    assert len(text) <= MAX_BODY_CHARS and len(text.encode()) > MAX_BODY_CHARS


# --- 10. a request cannot carry prplan's hidden lines -----------------------------------


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("body", "see the template:\n<!-- prplan:request=abc -->\nend"),
        ("body", f"notes\n{HUMAN_LINE}\n"),
        ("title", "<!-- prplan:request=abc -->"),
        ("title", f"x {HUMAN_LINE}"),
    ],
)
def test_a_request_carrying_prplans_hidden_lines_is_refused(field: str, text: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        _request(**{field: text})
    message = str(refused.value)
    assert field in message and "prplan writes itself" in message and "remove it" in message
