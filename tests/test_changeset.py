"""Change sets: validation naming entry and field, a 20-repository 2-stage
set converging (directly and over HTTP), a failure in stage 1 stopping
stage 2, re-runs converging without duplicate pull requests, and the
command's plan/apply/summary/report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.forges.local.server.app import ForgeServer
from prplan.run.changeset import ChangeSetPlan, apply_changeset, plan_changeset
from prplan.run.changeset_file import Goal, load_changeset, parse_changeset

from served import Served

CONFIG = "acme/configuration"
CLUSTERS = [f"acme/cluster-{i:02d}" for i in range(19)]
VALUES = "# api chart values\nimage:\n  repository: registry.example.com/acme/api\n  tag: '1.4.1'  # bumped by releases\nreplicas: 2\n"


def _forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(CONFIG, {"apps/api/values.yaml": VALUES})
    for repo in CLUSTERS:
        forge.create_repo(repo, {"clusters/api.yaml": "api: 1.4.1\n", "clusters/old.yaml": "old\n"})
    return forge


def _document(tmp_path: Path, *, config_automerge: bool = True) -> dict[str, object]:
    (tmp_path / "out").mkdir(exist_ok=True)
    (tmp_path / "out" / "api.yaml").write_text("api: 1.4.2\n")
    return {
        "version": 1,
        "defaults": {"create_pr": True, "automerge": True, "title": "Release api 1.4.2", "branch": "release/api-1.4.2"},
        "stages": [
            {"name": "configuration", "changes": [
                {"repo": CONFIG, "set": {"apps/api/values.yaml": {"image.tag": "1.4.2"}}, "automerge": config_automerge},
            ]},
            {"name": "clusters", "changes": [
                {"repo": repo, "files": {"clusters/api.yaml": "out/api.yaml"}, "delete": ["clusters/old.yaml"]}
                for repo in CLUSTERS
            ]},
        ],
    }  # fmt: skip


def _write(tmp_path: Path, document: dict[str, object]) -> Path:
    path = tmp_path / "release.yaml"
    path.write_text(json.dumps(document))  # JSON is YAML
    return path


def _converged(client: prplan.ForgeClient, path: Path) -> bool:
    return not plan_changeset(client, load_changeset(path)).has_changes


# --- the file ---------------------------------------------------------------------------


def test_every_problem_is_named_with_its_entry_and_field(tmp_path: Path) -> None:
    document = {
        "version": 2,
        "defaults": {"branch": "a..b", "colour": "red"},
        "stages": [
            {"name": "one", "changes": [
                {"repo": "not-a-repo", "files": {"x.yaml": "missing.yaml"}},
                {"repo": CONFIG, "merge_method": "octopus", "delete": ["ok.txt"], "surprise": 1},
                {"repo": CONFIG},
            ]},
        ],
    }  # fmt: skip
    with pytest.raises(prplan.InvalidRequestError) as raised:
        parse_changeset(document, base_dir=tmp_path)
    fields = {p.field for p in raised.value.problems}
    assert {"version", "defaults.colour", "stages[0].changes[0].files['x.yaml']", "stages[0].changes[1].surprise",
            "stages[0].changes[2]"} <= fields  # fmt: skip
    messages = {str(p) for p in raised.value.problems}
    assert any("cannot read missing.yaml" in m for m in messages)


def test_a_repository_appears_once_per_branch(tmp_path: Path) -> None:
    document = {"version": 1, "defaults": {"branch": "b"}, "changes": [
        {"repo": CONFIG, "delete": ["a"]}, {"repo": CONFIG, "delete": ["b"]}]}  # fmt: skip
    with pytest.raises(
        prplan.InvalidRequestError,
        match=r"changes\[1\]: acme/configuration via b is also changes\[0\]",
    ):
        parse_changeset(document)


def test_invalid_request_fields_are_named_under_their_entry(tmp_path: Path) -> None:
    document = {"version": 1, "changes": [{"repo": CONFIG, "branch": "x y", "delete": ["/abs"]}]}
    with pytest.raises(prplan.InvalidRequestError) as raised:
        parse_changeset(document)
    assert {p.field for p in raised.value.problems} == {
        "changes[0].branch",
        "changes[0].files['/abs']",
    }


# --- applying --------------------------------------------------------------------------


@pytest.mark.parametrize("over_http", [False, True], ids=["direct", "http"])
def test_twenty_repositories_in_two_stages_converge(
    tmp_path: Path, over_http: bool, forge_server: ForgeServer
) -> None:
    forge = _forge()
    client: prplan.ForgeClient = Served(forge_server, forge).client if over_http else forge
    path = _write(tmp_path, _document(tmp_path))
    planned = plan_changeset(client, load_changeset(path), concurrency=8)
    assert [len(plans) for _, plans in planned.stages] == [1, 19]
    assert prplan.run.changeset.ChangeSetPlan.from_dict(json.loads(planned.to_json())) == planned
    result = apply_changeset(client, planned)
    assert result.ok and all(
        e.outcome and e.outcome.status is prplan.OutcomeStatus.MERGED for e in result.entries
    )
    values = forge.read_file(CONFIG, "main", "apps/api/values.yaml")
    assert (
        values == VALUES.replace("'1.4.1'", "'1.4.2'").encode()
    )  # one value changed, comments kept
    for repo in CLUSTERS:
        assert forge.files(repo, "main") == {"clusters/api.yaml": b"api: 1.4.2\n"}
    assert _converged(client, path)


def test_a_failure_in_stage_one_stops_stage_two_and_a_rerun_converges(tmp_path: Path) -> None:
    forge = _forge()
    forge.block_merges(CONFIG, "main", 'Required status check "ci" is expected.')
    path = _write(tmp_path, _document(tmp_path))
    result = apply_changeset(forge, plan_changeset(forge, load_changeset(path)))
    assert not result.ok
    assert [e.status for e in result.entries[:2]] == ["failed", "not_run"]
    assert all(e.outcome is None for e in result.entries[1:])
    assert all(forge.pull_requests(repo) == [] for repo in CLUSTERS), "stage 2 must not start"

    forge.block_merges(CONFIG, "main", None)
    again = apply_changeset(forge, plan_changeset(forge, load_changeset(path)))
    assert again.ok
    assert [p.merged for p in forge.pull_requests(CONFIG)] == [True], (
        "the open PR is reused, not duplicated"
    )
    assert all(len(forge.pull_requests(repo)) == 1 for repo in CLUSTERS)
    assert _converged(forge, path)


def test_keep_going_finishes_the_stage_but_not_the_next(tmp_path: Path) -> None:
    forge = _forge()
    forge.block_merges(CLUSTERS[0], "main", "At least 1 approving review is required.")
    document = _document(tmp_path)
    stages = document["stages"]
    assert isinstance(stages, list)
    document["stages"] = [stages[1], {"name": "after", "changes": [stages[0]["changes"][0]]}]
    path = _write(tmp_path, document)
    result = apply_changeset(forge, plan_changeset(forge, load_changeset(path)), keep_going=True)
    statuses = [e.status for e in result.entries]
    assert (
        statuses[0] == "failed" and statuses[1:19] == ["merged"] * 18 and statuses[19] == "not_run"
    )


def test_a_goal_without_automerge_is_a_proposed_pull_request(tmp_path: Path) -> None:
    forge = _forge()
    path = _write(tmp_path, _document(tmp_path, config_automerge=False))
    result = apply_changeset(forge, plan_changeset(forge, load_changeset(path)))
    assert result.ok and result.entries[0].status == "created"
    assert forge.pull_requests(CONFIG)[0].is_open


# --- the command ---------------------------------------------------------------------------


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(CONFIG, {"apps/api/values.yaml": VALUES})
    for repo in CLUSTERS[:3]:
        forge.create_repo(repo, {"clusters/api.yaml": "api: 1.4.1\n", "clusters/old.yaml": "old\n"})
    forge.close()
    return tmp_path / "forge"


def _small(tmp_path: Path) -> Path:
    document = _document(tmp_path)
    stages = document["stages"]
    assert isinstance(stages, list)
    stages[1]["changes"] = stages[1]["changes"][:3]
    return _write(tmp_path, document)


def test_plan_and_apply_a_saved_change_set(tmp_path: Path, forge_dir: Path) -> None:
    path, saved = _small(tmp_path), tmp_path / "plan.json"
    runner = CliRunner()
    planned = runner.invoke(
        cli, ["plan", "--changeset", str(path), "--local", str(forge_dir), "--out", str(saved)]
    )
    assert planned.exit_code == 2, planned.output
    assert (
        "== stage configuration: 1 repositories" in planned.output
        and "4 of 4 repositories to change" in planned.output
    )
    applied = runner.invoke(
        cli, ["apply", str(saved), "--local", str(forge_dir), "--format", "json"]
    )
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.output)
    assert report["ok"] and [e["status"] for e in report["entries"]] == ["merged"] * 4
    again = runner.invoke(cli, ["plan", "--changeset", str(path), "--local", str(forge_dir)])
    assert again.exit_code == 0


def test_apply_a_change_set_in_one_go_prints_a_summary(tmp_path: Path, forge_dir: Path) -> None:
    result = CliRunner().invoke(
        cli, ["apply", "--changeset", str(_small(tmp_path)), "--local", str(forge_dir), "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "repository" in result.output
        and "acme/cluster-02" in result.output
        and "merged" in result.output
    )


def test_a_stale_saved_change_set_exits_4_and_writes_nothing(
    tmp_path: Path, forge_dir: Path
) -> None:
    path, saved = _small(tmp_path), tmp_path / "plan.json"
    CliRunner().invoke(
        cli, ["plan", "--changeset", str(path), "--local", str(forge_dir), "--out", str(saved)]
    )
    forge = prplan.LocalForge.open(forge_dir)
    forge.push(
        CONFIG, "main", {"apps/api/values.yaml": VALUES.replace("replicas: 2", "replicas: 3")}
    )
    forge.close()
    result = CliRunner().invoke(
        cli, ["apply", str(saved), "--local", str(forge_dir), "--format", "json"]
    )
    assert result.exit_code == 4
    forge = prplan.LocalForge.open(forge_dir)
    assert all(forge.pull_requests(repo) == [] for repo in [CONFIG, *CLUSTERS[:3]])


def test_a_change_set_and_a_change_are_not_mixed(tmp_path: Path, forge_dir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["plan", "--changeset", str(_small(tmp_path)), "--local", str(forge_dir), "--repo", CONFIG],
    )
    assert result.exit_code == 1 and "a change set names its own repositories" in result.output


def test_concurrent_writes_when_asked_converge_the_same(tmp_path: Path) -> None:
    forge = _forge()
    path = _write(tmp_path, _document(tmp_path))
    result = apply_changeset(
        forge, plan_changeset(forge, load_changeset(path)), write_concurrency=4
    )
    assert result.ok and len(result.entries) == 20
    assert all(len(forge.pull_requests(repo)) == 1 for repo in [CONFIG, *CLUSTERS])
    assert _converged(forge, path)


# --- goals: a stage moves on only when the one before reached its goal ----------------------

BRANCH = "release/api-1.4.2"
BUMPED = VALUES.replace("'1.4.1'", "'1.4.2'")


def _untouched(forge: prplan.LocalForge, repos: list[str]) -> bool:
    """No branch, pull request or commit beyond the seed in any of ``repos``."""
    return all(
        forge.pull_requests(repo) == []
        and set(forge.branches(repo)) == {"main"}
        and forge.files(repo, "main") == {"clusters/api.yaml": b"api: 1.4.1\n", "clusters/old.yaml": b"old\n"}
        for repo in repos
    )  # fmt: skip


def _close_a_pull_request(forge: prplan.LocalForge) -> None:
    """The configuration's release pull request was closed unmerged by a human."""
    forge.push(CONFIG, BRANCH, {"apps/api/values.yaml": BUMPED}, message="Release api 1.4.2")
    forge.close_pr(CONFIG, forge.open_pr(CONFIG, BRANCH))


def _skipping(tmp_path: Path, stages: int = 2) -> Path:
    document = _document(tmp_path)
    stages_ = document["stages"]
    assert isinstance(stages_, list)
    stages_[0]["changes"][0]["on_closed"] = "skip"
    stages_[1]["changes"] = stages_[1]["changes"][:stages]
    return _write(tmp_path, document)


def test_a_skipped_entry_is_short_of_its_goal_and_stage_two_never_starts(tmp_path: Path) -> None:
    forge = _forge()
    _close_a_pull_request(forge)
    planned = plan_changeset(forge, load_changeset(_skipping(tmp_path)))
    assert planned.plans[0].rule == "closed_skip"
    result = apply_changeset(forge, planned)
    config = result.entries[0]
    assert config.status == "unchanged" and config.goal is Goal.MERGED
    assert not config.reached_goal and config.achieved is Goal.APPLIED and not result.ok
    assert [e.status for e in result.entries[1:]] == ["not_run"] * 2
    assert "stage 'configuration' did not reach its goal" in result.entries[1].note
    assert forge.read_file(CONFIG, "main", "apps/api/values.yaml") == VALUES.encode()
    assert _untouched(forge, CLUSTERS[:2])


def test_a_skipped_entry_through_the_command_exits_5_and_stage_two_is_untouched(
    tmp_path: Path, forge_dir: Path
) -> None:
    forge = prplan.LocalForge.open(forge_dir)
    _close_a_pull_request(forge)
    forge.close()
    result = CliRunner().invoke(
        cli,
        ["apply", "--changeset", str(_skipping(tmp_path, 3)), "--local", str(forge_dir), "--yes"],
    )
    assert result.exit_code == 5, result.output
    assert "merged: not reached" in result.output and "short of its goal (merged)" in result.output
    assert "stage 'configuration' did not reach its goal" in result.output
    forge = prplan.LocalForge.open(forge_dir)
    assert _untouched(forge, CLUSTERS[:3])
    assert forge.read_file(CONFIG, "main", "apps/api/values.yaml") == VALUES.encode()


def _commit_only(tmp_path: Path, require: str | None) -> Path:
    document = _document(tmp_path)
    stages = document["stages"]
    assert isinstance(stages, list)
    stages[0]["changes"][0]["create_pr"] = False
    if require is not None:
        stages[0]["require"] = require
    stages[1]["changes"] = stages[1]["changes"][:2]
    return _write(tmp_path, document)


def test_a_commit_to_a_side_branch_is_short_of_the_default_goal(tmp_path: Path) -> None:
    forge = _forge()
    result = apply_changeset(
        forge, plan_changeset(forge, load_changeset(_commit_only(tmp_path, None)))
    )
    assert [e.status for e in result.entries] == ["committed", "not_run", "not_run"]
    assert not result.ok and result.entries[0].goal is Goal.MERGED
    assert forge.read_file(CONFIG, BRANCH, "apps/api/values.yaml") == BUMPED.encode()
    assert forge.read_file(CONFIG, "main", "apps/api/values.yaml") == VALUES.encode()
    assert _untouched(forge, CLUSTERS[:2])


def test_require_applied_lets_a_commit_only_stage_go_on(tmp_path: Path) -> None:
    forge = _forge()
    path = _commit_only(tmp_path, "applied")
    planned = plan_changeset(forge, load_changeset(path))
    assert planned.require == (Goal.APPLIED, None)
    result = apply_changeset(forge, ChangeSetPlan.from_dict(json.loads(planned.to_json())))
    assert result.ok and [e.status for e in result.entries] == ["committed", "merged", "merged"]
    assert [e.goal for e in result.entries] == [Goal.APPLIED, Goal.MERGED, Goal.MERGED]
    assert all(
        forge.files(repo, "main") == {"clusters/api.yaml": b"api: 1.4.2\n"} for repo in CLUSTERS[:2]
    )


def test_require_applied_through_the_command(tmp_path: Path, forge_dir: Path) -> None:
    runner = CliRunner()
    default = runner.invoke(
        cli, ["apply", "--changeset", str(_commit_only(tmp_path, None)), "--local", str(forge_dir),
              "--format", "json", "--yes"])  # fmt: skip
    assert default.exit_code == 5, default.output
    report = json.loads(default.output)
    assert [(e["status"], e["goal"], e["reached_goal"]) for e in report["entries"]] == [
        ("committed", "merged", False), ("not_run", "merged", False), ("not_run", "merged", False)]  # fmt: skip
    applied = runner.invoke(
        cli, ["apply", "--changeset", str(_commit_only(tmp_path, "applied")), "--local",
              str(forge_dir), "--format", "json", "--yes"])  # fmt: skip
    assert applied.exit_code == 0, applied.output
    assert [e["status"] for e in json.loads(applied.output)["entries"]] == ["unchanged", "merged", "merged"]  # fmt: skip


def test_require_is_validated_and_a_stage_field_typo_named(tmp_path: Path) -> None:
    document = {"version": 1, "defaults": {"branch": "b"}, "stages": [
        {"name": "one", "require": "deployed", "changes": [{"repo": CONFIG, "delete": ["a"]}]},
        {"name": "two", "requires": "merged", "changes": [{"repo": CLUSTERS[0], "delete": ["a"]}]}]}  # fmt: skip
    with pytest.raises(prplan.InvalidRequestError) as raised:
        parse_changeset(document)
    assert {str(p) for p in raised.value.problems} == {
        "stages[0].require: is 'deployed'; give merged, proposed or applied (see docs/changesets.md)",
        "stages[1].requires: is not a stage field (name, changes, require, timeout)",
    }


def test_a_saved_plan_without_require_keeps_its_digest_and_an_edited_require_is_caught(
    tmp_path: Path,
) -> None:
    forge = _forge()
    planned = plan_changeset(forge, load_changeset(_small(tmp_path)))
    document = json.loads(planned.to_json())
    assert all("require" not in stage for stage in document["stages"])
    document["stages"][0]["require"] = "applied"  # loosened after review
    with pytest.raises(prplan.PlanFormatError, match="digest"):
        ChangeSetPlan.from_dict(document)


def _in_place_then_reverted(tmp_path: Path, forge_dir: Path) -> Path:
    """The configuration already holds the release when planned ("nothing to
    do"); then someone reverts it before the saved plan is applied."""
    forge = prplan.LocalForge.open(forge_dir)
    forge.push(CONFIG, "main", {"apps/api/values.yaml": BUMPED})
    forge.close()
    saved = tmp_path / "plan.json"
    planned = CliRunner().invoke(
        cli,
        [
            "plan",
            "--changeset",
            str(_small(tmp_path)),
            "--local",
            str(forge_dir),
            "--out",
            str(saved),
        ],
    )
    assert planned.exit_code == 2, planned.output
    plan = ChangeSetPlan.from_dict(json.loads(saved.read_text()))
    assert plan.plans[0].is_empty and all(p.actions for p in plan.plans[1:])
    forge = prplan.LocalForge.open(forge_dir)
    forge.push(CONFIG, "main", {"apps/api/values.yaml": VALUES}, message="Revert api 1.4.2")
    forge.close()
    return saved


def test_a_saved_empty_entry_is_rechecked_a_reverted_base_is_stale(
    tmp_path: Path, forge_dir: Path
) -> None:
    saved = _in_place_then_reverted(tmp_path, forge_dir)
    result = CliRunner().invoke(
        cli, ["apply", str(saved), "--local", str(forge_dir), "--format", "json"]
    )
    assert result.exit_code == 4, result.output
    report = json.loads(result.output)
    assert [e["status"] for e in report["entries"]] == ["stale", "not_run", "not_run", "not_run"]
    assert report["entries"][0]["error_type"] == "StalePlanError" and not report["wrote"]
    assert "apps/api/values.yaml on base" in report["entries"][0]["error"]
    forge = prplan.LocalForge.open(forge_dir)
    assert _untouched(forge, CLUSTERS[:3]) and forge.pull_requests(CONFIG) == []


def test_a_saved_empty_entry_through_the_api_is_stale_too(tmp_path: Path, forge_dir: Path) -> None:
    saved = _in_place_then_reverted(tmp_path, forge_dir)
    forge = prplan.LocalForge.open(forge_dir)
    result = apply_changeset(forge, ChangeSetPlan.from_dict(json.loads(saved.read_text())))
    assert [e.status for e in result.entries] == ["stale", "not_run", "not_run", "not_run"]
    assert not result.wrote and _untouched(forge, CLUSTERS[:3])


def _stale_third_cluster(forge: prplan.LocalForge) -> None:
    forge.push(CLUSTERS[2], "main", {"clusters/api.yaml": "api: 1.4.1-hotfix\n"}, message="Hotfix")


def test_a_stale_entry_means_no_entry_of_its_stage_is_written(tmp_path: Path) -> None:
    forge = _forge()
    document = _document(tmp_path)
    stages = document["stages"]
    assert isinstance(stages, list)
    stages[1]["changes"] = stages[1]["changes"][:3]
    planned = plan_changeset(forge, load_changeset(_write(tmp_path, document)))
    _stale_third_cluster(forge)  # the last entry of stage 2: the first two would go first
    result = apply_changeset(forge, planned, keep_going=True)
    assert [e.status for e in result.entries] == ["merged", "not_run", "not_run", "stale"]
    assert result.entries[3].error_type == "StalePlanError"
    assert "the check of stage 'clusters' failed for acme/cluster-02" in result.entries[1].note
    assert all(forge.pull_requests(repo) == [] and set(forge.branches(repo)) == {"main"}
               for repo in CLUSTERS[:3])  # fmt: skip
    assert result.wrote and not result.ok


def test_exit_4_only_when_nothing_was_written(tmp_path: Path, forge_dir: Path) -> None:
    path, saved = _small(tmp_path), tmp_path / "plan.json"
    CliRunner().invoke(
        cli, ["plan", "--changeset", str(path), "--local", str(forge_dir), "--out", str(saved)]
    )
    forge = prplan.LocalForge.open(forge_dir)
    _stale_third_cluster(forge)
    forge.close()
    result = CliRunner().invoke(
        cli, ["apply", str(saved), "--local", str(forge_dir), "--format", "json"]
    )
    assert result.exit_code == 5, result.output  # stage 1 was written: not "nothing written"
    report = json.loads(result.output)
    assert report["wrote"] and [e["status"] for e in report["entries"]] == [
        "merged",
        "not_run",
        "not_run",
        "stale",
    ]
    forge = prplan.LocalForge.open(forge_dir)
    assert all(forge.pull_requests(repo) == [] for repo in CLUSTERS[:3])


def test_an_error_mentioning_stale_is_not_a_stale_plan() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo("acme/one", {"a.txt": "a\n"})
    forge.set_branch("acme/one", "stale-fixes", "main")
    changeset = parse_changeset({"version": 1, "changes": [
        {"repo": "acme/one", "branch": "rel", "base": "stale-fixes", "delete": ["a.txt"]}]})  # fmt: skip
    planned = plan_changeset(forge, changeset)
    forge.remove_branch("acme/one", "stale-fixes")
    (entry,) = apply_changeset(forge, planned).entries
    assert "stale-fixes" in entry.error
    assert entry.status == "failed" and entry.error_type == "NotFoundError"


class _Terminal:
    """``sys`` as the command sees it on a terminal: stdin and stdout are
    ttys (CliRunner's own streams underneath), everything else is ``sys``."""

    class _Tty:
        def __init__(self, stream: object) -> None:
            self._stream = stream

        def isatty(self) -> bool:
            return True

        def __getattr__(self, name: str) -> object:
            return getattr(self._stream, name)

    def __getattr__(self, name: str) -> object:
        import sys

        value = getattr(sys, name)
        return self._Tty(value) if name in {"stdin", "stdout"} else value


@pytest.mark.parametrize("yes", [True, False], ids=["yes", "asked"])
def test_yes_does_not_ask_on_a_terminal(
    tmp_path: Path, forge_dir: Path, monkeypatch: pytest.MonkeyPatch, yes: bool
) -> None:
    from prplan.cli import options as cli_module

    monkeypatch.setattr(cli_module, "sys", _Terminal())
    args = ["apply", "--changeset", str(_small(tmp_path)), "--local", str(forge_dir)]
    result = CliRunner().invoke(cli, args + (["--yes"] if yes else []), input="n\n")
    assert result.exit_code == (0 if yes else 1), result.output  # declining applies nothing
    asked = "Apply this change set?" in result.output
    assert asked is not yes
    forge = prplan.LocalForge.open(forge_dir)
    assert (
        forge.read_file(CONFIG, "main", "apps/api/values.yaml")
        == (BUMPED if yes else VALUES).encode()
    )


def test_who_is_asked_before_a_change_set_is_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from prplan.cli.changeset_cmd import _asks_to_apply_changeset as asks

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    forge = _forge()
    the_set = plan_changeset(forge, load_changeset(_small(tmp_path)))
    assert asks(the_set, saved=False, yes=False, skip_refused=False)
    assert not asks(the_set, saved=False, yes=True, skip_refused=False)
    assert not asks(the_set, saved=True, yes=False, skip_refused=False)


def _one_refused(tmp_path: Path, stage: int) -> Path:
    """acme/cluster-01 may not modify its file (allow_modification: false): refused."""
    document = _document(tmp_path)
    stages = document["stages"]
    assert isinstance(stages, list)
    stages[1]["changes"] = stages[1]["changes"][:3]
    refused = stages[1]["changes"].pop(1)
    refused["allow_modification"] = False
    stages[stage]["changes"].append(refused)
    return _write(tmp_path, document)


def test_a_saved_plan_with_a_refusal_is_not_applied_unless_skip_refused(
    tmp_path: Path, forge_dir: Path
) -> None:
    saved, runner = tmp_path / "plan.json", CliRunner()
    planned = runner.invoke(cli, ["plan", "--changeset", str(_one_refused(tmp_path, 1)), "--local",
                                  str(forge_dir), "--out", str(saved)])  # fmt: skip
    assert planned.exit_code == 3, planned.output
    refused = runner.invoke(
        cli, ["apply", str(saved), "--local", str(forge_dir), "--format", "json"]
    )
    assert refused.exit_code == 3, refused.output
    report = json.loads(refused.output)
    assert [(e["repo"], e["status"]) for e in report["entries"]] == [
        (CONFIG, "not_run"), (CLUSTERS[0], "not_run"), (CLUSTERS[2], "not_run"), (CLUSTERS[1], "refused")]  # fmt: skip
    assert "--skip-refused" in report["entries"][0]["note"] and not report["wrote"]
    forge = prplan.LocalForge.open(forge_dir)
    assert forge.pull_requests(CONFIG) == [] and _untouched(forge, CLUSTERS[:3])
    forge.close()

    rest = runner.invoke(cli, ["apply", str(saved), "--local", str(forge_dir), "--skip-refused"])
    assert rest.exit_code == 3, rest.output  # the refusal still stands
    forge = prplan.LocalForge.open(forge_dir)
    assert forge.read_file(CONFIG, "main", "apps/api/values.yaml") == BUMPED.encode()
    assert [forge.read_file(repo, "main", "clusters/api.yaml") for repo in CLUSTERS[:3]] == [
        b"api: 1.4.2\n", b"api: 1.4.1\n", b"api: 1.4.2\n"]  # fmt: skip


def test_a_change_set_with_a_refusal_is_not_applied_in_one_go_either(
    tmp_path: Path, forge_dir: Path
) -> None:
    result = CliRunner().invoke(
        cli, ["apply", "--changeset", str(_one_refused(tmp_path, 1)), "--local", str(forge_dir)]
    )
    assert result.exit_code == 3, result.output
    assert "--skip-refused" in result.output
    forge = prplan.LocalForge.open(forge_dir)
    assert forge.pull_requests(CONFIG) == [] and _untouched(forge, CLUSTERS[:3])


def test_skip_refused_through_the_api_and_a_refusal_holds_later_stages(tmp_path: Path) -> None:
    forge = _forge()
    planned = plan_changeset(forge, load_changeset(_one_refused(tmp_path, 0)))
    assert [p.request.repo for p in planned.refused] == [CLUSTERS[1]]
    held = apply_changeset(forge, planned)
    assert [e.status for e in held.entries] == ["not_run", "refused", "not_run", "not_run"]
    assert not held.wrote and forge.pull_requests(CONFIG) == []
    rest = apply_changeset(forge, planned, skip_refused=True)
    # The refused entry is in stage 1: the rest of stage 1 is applied, stage 2 never starts.
    assert [e.status for e in rest.entries] == ["merged", "refused", "not_run", "not_run"]
    assert forge.read_file(CONFIG, "main", "apps/api/values.yaml") == BUMPED.encode()
    assert _untouched(forge, [CLUSTERS[0], CLUSTERS[2]])


def test_skip_refused_is_for_change_sets(tmp_path: Path, forge_dir: Path) -> None:
    (tmp_path / "v.yaml").write_text("x\n")
    result = CliRunner().invoke(cli, ["apply", "--repo", CONFIG, "--local", str(forge_dir), "--branch", "b",
                                      "--file", f"a.yaml={tmp_path / 'v.yaml'}", "--skip-refused"])  # fmt: skip
    assert result.exit_code == 1 and "--skip-refused: is for change sets" in result.output
    assert set(prplan.LocalForge.open(forge_dir).branches(CONFIG)) == {"main"}


def test_set_values_are_read_as_written_and_typed_by_the_file(tmp_path: Path) -> None:
    """image.tag: 1.10 in a change set is the text 1.10, not the float 1.1."""
    path = tmp_path / "set.yaml"
    path.write_text(
        "version: 1\n"
        "changes:\n"
        "  - repo: acme/configuration\n"
        "    branch: bump\n"
        "    set: {values.yaml: {image.tag: 1.10, replicas: 0x10}}\n"
        "    set_string: {values.yaml: {image.pullPolicy: 010}}\n"
        "    set_json: {values.yaml: {resources: '{\"cpu\": 1}'}}\n",
        encoding="utf-8",
    )
    (request,) = load_changeset(path).stages[0].requests
    edits = request.files["values.yaml"]
    assert isinstance(edits, tuple)
    assert [(e.path, e.value, e.as_written) for e in edits] == [
        ("image.tag", "1.10", True),
        ("replicas", "0x10", True),
        ("image.pullPolicy", "010", False),
        ("resources", {"cpu": 1}, False),
    ]
    before = b"image:\n  tag: '1.9'\nreplicas: 2\n"
    after = prplan.edits.apply_edits(before, edits, filename="values.yaml")
    assert after == (
        b"image:\n  tag: '1.10'\n  pullPolicy: '010'\nreplicas: 0x10\nresources:\n  cpu: 1\n"
    )


def test_a_bad_set_json_value_is_named(tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(
        "version: 1\nchanges:\n  - repo: acme/c\n    branch: b\n"
        "    set_json: {v.yaml: {a: '[1,'}}\n",
        encoding="utf-8",
    )
    with pytest.raises(prplan.InvalidRequestError) as caught:
        load_changeset(path)
    assert caught.value.problems[0].field == "changes[0].set_json['v.yaml']['a']"
    assert caught.value.problems[0].message.startswith("is not JSON")


# --- values as written, wherever they are in set: (review of issue 10) ---------------


def _set_edits(tmp_path: Path, changes: str) -> list[tuple[str, object, bool]]:
    """The (path, value, as_written) of each edit the one change makes."""
    path = tmp_path / "set.yaml"
    path.write_text(
        "version: 1\ndefaults: &d {branch: bump}\nchanges:\n" + changes, encoding="utf-8"
    )
    (request,) = load_changeset(path).stages[0].requests
    edits = request.files["values.yaml"]
    assert isinstance(edits, tuple)
    return [(e.path, getattr(e, "value", None), getattr(e, "as_written", False)) for e in edits]


def test_texts_inside_lists_and_mappings_are_kept_as_written(tmp_path: Path) -> None:
    changes = (
        "  - repo: acme/api\n"
        "    set:\n"
        "      values.yaml:\n"
        "        image: {tag: 1.10, pull: 'IfNotPresent'}\n"
        "        tags: [1.10, 1.20]\n"
        "        block:\n"
        "          text: |\n"
        "            x\n"
    )
    assert _set_edits(tmp_path, changes) == [
        ("image", {"tag": "1.10", "pull": '"IfNotPresent"'}, True),
        ("tags", ["1.10", "1.20"], True),
        ("block", {"text": '"x\\n"'}, True),
    ]
    (request,) = load_changeset(tmp_path / "set.yaml").stages[0].requests
    edits = request.files["values.yaml"]
    assert isinstance(edits, tuple)
    after = prplan.edits.apply_edits(
        b"image:\n  tag: '1.9'\ntags: []\nblock: {}\n", edits, filename="values.yaml"
    )
    assert after == (
        b"image:\n  tag: '1.10'\n  pull: IfNotPresent\ntags:\n- '1.10'\n- '1.20'\n"
        b'block:\n  text: "x\\n"\n'
    )


def test_an_explicit_tag_is_an_explicit_type(tmp_path: Path) -> None:
    changes = (
        "  - repo: acme/api\n"
        "    set: {values.yaml: {a: !!str 1.10, b: !!float 1.10, c: &n !!int '7', d: *n,\n"
        "                        e: {x: !!str 1.10, y: !!float 1.10, z: !!bool 'true'}}}\n"
    )
    assert _set_edits(tmp_path, changes) == [
        ("a", "1.10", False),
        ("b", 1.1, False),
        ("c", 7, False),
        ("d", 7, False),
        ("e", {"x": '"1.10"', "y": "1.1", "z": "true"}, True),
    ]


def test_keys_are_the_text_as_written(tmp_path: Path) -> None:
    changes = (
        "  - repo: acme/api\n"
        "    set: {values.yaml: {1.10: y, true: 1, ~: 2, nested: {1.10: z}}}\n"
        "    replace: {other.txt: {1.10: 1.20}}\n"
    )
    assert _set_edits(tmp_path, changes) == [
        ("1.10", "y", True),
        ("true", "1", True),
        ("~", "2", True),
        ("nested", {"1.10": "z"}, True),
    ]
    (request,) = load_changeset(tmp_path / "set.yaml").stages[0].requests
    (replace,) = request.files["other.txt"]  # type: ignore[misc]
    assert (replace.old, replace.new) == ("1.10", "1.20")


def test_merge_keys_in_a_change_and_in_set_keep_values_as_written(tmp_path: Path) -> None:
    changes = (
        "  - <<: *d\n"
        "    repo: acme/api\n"
        "    set: {values.yaml: {<<: {a: 1.10}, image.tag: 1.10, m: {<<: {x: 1.10}, y: 2}}}\n"
    )
    assert sorted(_set_edits(tmp_path, changes), key=str) == sorted(
        [
            ("a", "1.10", True),
            ("image.tag", "1.10", True),
            ("m", {"x": "1.10", "y": "2"}, True),
        ],
        key=str,
    )


def test_a_value_set_cannot_write_is_named(tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(
        "version: 1\nchanges:\n  - repo: acme/c\n    branch: b\n"
        "    set: {v.yaml: {a: {when: !!timestamp 2024-01-01, plain: 2024-01-01}, "
        "b: [!!binary aGk=]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(prplan.InvalidRequestError) as caught:
        load_changeset(path)
    assert [(p.field, p.message) for p in caught.value.problems][:2] == [
        (
            "changes[0].set['v.yaml']['a']",
            "a.when has the tag !!timestamp; set: writes text, numbers, booleans, null, "
            "lists and mappings: drop the tag to write it as text",
        ),
        (
            "changes[0].set['v.yaml']['b']",
            "b[0] has the tag !!binary; set: writes text, numbers, booleans, null, "
            "lists and mappings: drop the tag to write it as text",
        ),
    ]
