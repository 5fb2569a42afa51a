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
from prplan._changeset import apply_changeset, load_changeset, parse_changeset, plan_changeset
from prplan.cli import cli
from prplan.localforge._rest import ForgeServer

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
    assert prplan._changeset.ChangeSetPlan.from_dict(json.loads(planned.to_json())) == planned
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
        cli, ["apply", "--changeset", str(_small(tmp_path)), "--local", str(forge_dir)]
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
    after = prplan._edits.apply_edits(before, edits, filename="values.yaml")
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
