"""The audit trail (docs/audit.md): every record validated against
docs/audit.schema.json (Draft 2020-12), tied to the release, the forge and
the writer; never reading as a clean run when it was not: stale, refused and
not-run change-set entries are on the record, a write killed in flight is
on the record, and an audit path that cannot be written is refused before
anything is observed."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result

import prplan
from prplan.cli import cli
from prplan.core import actions as _plan
from prplan.forges.local.server.app import ForgeServer

from audit_records import SCHEMA, read_audit
from served import TOKEN, Served, fixed_clock

REPO = "acme/app"
OTHERS = ["acme/canary", "acme/fleet"]
VALUES = "tag: 1\n"
LOCAL_USER = "prplan <prplan@localforge.invalid>"  # LocalForge's default writer


def _run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def _new_values(tmp_path: Path) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text("tag: 2\n")
    return path


def _change(tmp_path: Path, *extra: str) -> list[str | Path]:
    return ["--repo", REPO, "--branch", "prplan/tag-2", "--file",
            f"values.yaml={_new_values(tmp_path)}", "--title", "Tag 2", *extra]  # fmt: skip


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    forge = prplan.LocalForge.open(tmp_path / "forge", clock=fixed_clock)
    for repo in [REPO, *OTHERS]:
        forge.create_repo(repo, {"values.yaml": VALUES})
    forge.close()
    return tmp_path / "forge"


def _served(server: ForgeServer) -> tuple[Served, dict[str, str]]:
    forge = prplan.LocalForge.in_memory(clock=fixed_clock)
    for repo in [REPO, *OTHERS]:
        forge.create_repo(repo, {"values.yaml": VALUES})
    served = Served(server, forge)
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": server.api_url, "NO_COLOR": "1"}
    return served, env


def _kinds(records: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(r["type"], r.get("action", {}).get("kind")) for r in records]


# --- what every record carries --------------------------------------------------------


def test_every_record_names_the_release_the_forge_and_the_plan(
    forge_dir: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    args = [*_change(tmp_path, "--automerge", "--delete-branch"), "--local", forge_dir]
    done = _run("apply", *args, "--yes", "--audit-log", audit, "--format", "json")
    assert done.exit_code == 0, done.output
    outcome = json.loads(done.output)
    records = read_audit(audit)
    assert {r["prplan_version"] for r in records} == {importlib.metadata.version("prplan")}
    assert {r["forge"] for r in records} == {str(forge_dir.absolute())}
    assert {(r["repo"], r["branch"], r["plan_digest"]) for r in records} == {
        (REPO, "prplan/tag-2", outcome["plan_digest"])
    }
    assert all(r["changeset"] is None and r["audit_format"] == 1 for r in records)
    # Each write starts on the record before it ends, and its end names its start.
    started = {r["action"]["index"]: r["time"] for r in records if r["type"] == "action_started"}
    finished = [r for r in records if r["type"] == "action_finished"]
    assert sorted(started) == [r["action"]["index"] for r in finished] == [0, 1, 2, 3, 4]
    for record in finished:
        assert record["started_at"] == started[record["action"]["index"]]
        assert record["started_at"] <= record["finished_at"] == record["time"]
    (last,) = [r for r in records if r["type"] == "outcome"]
    assert last is records[-1] and last["status"] == "merged" and last["outcome"] == outcome
    assert last["started_at"] <= records[0]["time"] and last["finished_at"] >= finished[-1]["time"]
    # The local forge reports its user for the commit and the pull request it made.
    actors = {r["action"]["kind"]: r["result"]["actor"] for r in finished}
    assert actors == {
        "create_branch": None,
        "commit": LOCAL_USER,
        "create_pull_request": LOCAL_USER,
        "merge_pull_request": None,
        "delete_branch": None,
    }
    assert last["actors"] == [LOCAL_USER]


def test_over_github_the_forge_url_and_the_writers_come_from_the_answers(
    forge_server: ForgeServer, tmp_path: Path
) -> None:
    served, env = _served(forge_server)
    audit = tmp_path / "audit.jsonl"
    done = _run("apply", *_change(tmp_path, "--automerge"), "--yes", "--audit-log", audit, env=env)
    assert done.exit_code == 0, done.output
    records = read_audit(audit)
    assert {r["forge"] for r in records} == {forge_server.api_url}
    actors = {
        r["action"]["kind"]: r["result"]["actor"] for r in records if r["type"] == "action_finished"
    }
    # The commit's committer from the commit's answer, the pull request's
    # author (its user.login) from the pull request's answer.
    assert actors["commit"] == LOCAL_USER and actors["create_pull_request"] == "prplan"
    assert records[-1]["actors"] == sorted({LOCAL_USER, "prplan"})
    # Learnt from the answers: no request asked the forge who the token is.
    paths = [path for _, path, _ in served.app.log.entries]
    assert paths and not [p for p in paths if p.endswith("/user") or "/users/" in p]
    assert TOKEN not in audit.read_text() and served.violations == []


def test_a_forge_url_in_the_record_never_carries_credentials() -> None:
    from prplan.run.audit import forge_address

    client = prplan.GitHubClient(
        token=TOKEN, base_url=f"https://x:{TOKEN}@ghe.example:8443/api/v3?t={TOKEN}"
    )
    assert forge_address(client) == "https://ghe.example:8443/api/v3"
    assert forge_address(prplan.LocalForge.in_memory()) == "memory"


def _fields(cls: type) -> set[str]:
    return {field.name for field in attrs.fields(cls)}


def test_the_schema_names_every_field_of_the_outcome_and_the_actions() -> None:
    """The records are cattrs' view of these classes; the schema refuses
    unknown fields, so a field added to them must be documented here too."""
    defs = SCHEMA["$defs"]
    assert set(defs["outcome"]["properties"]) == _fields(prplan.Outcome)
    assert set(defs["action_result"]["properties"]) == _fields(prplan.ActionResult)
    by_kind = {a["properties"]["kind"]["const"]: a for a in defs["action"]["oneOf"]}
    classes = [_plan.CreateBranch, _plan.ResetBranch, _plan.Commit, _plan.CreatePullRequest,
               _plan.MergePullRequest, _plan.EnableAutoMerge, _plan.Enqueue, _plan.DisarmMerge, _plan.DeleteBranch]  # fmt: skip
    assert set(by_kind) == {kind.value for kind in prplan.ActionKind}
    for cls in classes:
        kind = cls.__name__  # CreatePullRequest -> create_pull_request
        kind = "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")
        assert set(by_kind[kind]["properties"]) == _fields(cls) | {"index", "kind"}, kind
    files = by_kind["commit"]["properties"]["files"]["items"]["properties"]
    assert set(files) == _fields(_plan.FileChange) | {"change"}


# --- never a clean run when it was not -------------------------------------------------


def test_a_failed_write_and_the_actions_never_run_are_on_the_record(
    forge_server: ForgeServer, tmp_path: Path
) -> None:
    served, env = _served(forge_server)
    served.forge.block_merges(REPO, "main", 'Required status check "ci" is expected.')
    audit = tmp_path / "audit.jsonl"
    args = _change(tmp_path, "--automerge", "--delete-branch")
    done = _run("apply", *args, "--yes", "--audit-log", audit, env=env)
    assert done.exit_code == 5, done.output
    records = read_audit(audit)
    merge = [r for r in records if r["type"] == "action_finished"][-1]
    assert merge["action"]["kind"] == "merge_pull_request"
    assert merge["result"]["status"] == "failed" and "ci" in merge["result"]["detail"]
    last = records[-1]
    assert last["status"] == "failed" and last["error_type"] == "MergeBlocked"
    assert [(a["kind"], a["status"]) for a in last["outcome"]["actions"]][-2:] == [
        ("merge_pull_request", "failed"),
        ("delete_branch", "not_run"),
    ]


def test_a_saved_plan_the_forge_failed_to_check_is_on_the_record_as_failed(
    forge_server: ForgeServer, tmp_path: Path
) -> None:
    served, env = _served(forge_server)
    saved, audit = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    assert _run("plan", *_change(tmp_path), "--out", saved, env=env).exit_code == 2
    # The recheck's first read fails: apply raises before any action.
    served.faults.add(method="*", path=".*", status=404, times=0)
    done = CliRunner().invoke(cli, ["apply", str(saved), "--audit-log", str(audit)], env=env)
    # The error goes on to the command's entry point, which prints it and exits 1.
    assert isinstance(done.exception, prplan.ForgeError), done.output
    (record,) = read_audit(audit)
    assert record["status"] == "failed" and record["outcome"] is None
    assert record["error_type"] == "ForgeError" and "404" in record["error"]
    assert served.app.log.writes == 0


def _changeset(tmp_path: Path, *, refuse: str | None = None) -> Path:
    (tmp_path / "v2.yaml").write_text("tag: 2\n")
    change = {"files": {"values.yaml": "v2.yaml"}}
    stages = [
        {"name": "canary", "changes": [{"repo": REPO, **change}, {"repo": OTHERS[0], **change}]},
        {"name": "fleet", "changes": [{"repo": OTHERS[1], **change}]},
    ]
    for stage in stages:
        for entry in stage["changes"]:  # type: ignore[attr-defined]
            if entry["repo"] == refuse:
                entry["allow_modification"] = False
    document = {"version": 1, "defaults": {"branch": "release/2", "automerge": True},
                "stages": stages}  # fmt: skip
    path = tmp_path / "release.yaml"
    path.write_text(json.dumps(document))
    return path


def _entries(records: list[dict[str, Any]]) -> list[tuple[str, str, int, int, str]]:
    """Each outcome record as (repo, stage, stage index, entry index, status)."""
    return [
        (r["repo"], r["changeset"]["stage"], r["changeset"]["stage_index"],
         r["changeset"]["entry_index"], r["status"])
        for r in records if r["type"] == "outcome"
    ]  # fmt: skip


def test_a_stale_change_set_puts_every_entry_on_the_record(forge_dir: Path, tmp_path: Path) -> None:
    saved, audit = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    planned = _run(
        "plan", "--changeset", _changeset(tmp_path), "--local", forge_dir, "--out", saved
    )
    assert planned.exit_code == 2, planned.output
    forge = prplan.LocalForge.open(forge_dir)
    forge.push(REPO, "main", {"values.yaml": "tag: hotfix\n"}, message="Hotfix")
    forge.close()
    done = _run("apply", saved, "--local", forge_dir, "--audit-log", audit)
    assert done.exit_code == 4, done.output
    records = read_audit(audit)
    assert _entries(records) == [
        (REPO, "canary", 0, 0, "stale"),
        (OTHERS[0], "canary", 0, 1, "not_run"),
        (OTHERS[1], "fleet", 1, 0, "not_run"),
    ]
    digest = json.loads(saved.read_text())["digest"]
    assert {r["changeset"]["changeset_digest"] for r in records} == {digest}
    stale, canary, fleet = records
    assert "values.yaml on base" in stale["error"] and stale["error_type"] == "StalePlanError"
    assert "not written" in canary["note"] and "not started" in fleet["note"]
    assert all(r["outcome"] is None and r["started_at"] is None for r in records)


def test_refused_and_held_change_set_entries_are_on_the_record(
    forge_dir: Path, tmp_path: Path
) -> None:
    saved, audit = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    path = _changeset(tmp_path, refuse=OTHERS[0])
    assert _run("plan", "--changeset", path, "--local", forge_dir, "--out", saved).exit_code == 3
    held = _run("apply", saved, "--local", forge_dir, "--audit-log", audit)
    assert held.exit_code == 3, held.output
    records = read_audit(audit)
    assert _entries(records) == [
        (REPO, "canary", 0, 0, "not_run"),
        (OTHERS[0], "canary", 0, 1, "refused"),
        (OTHERS[1], "fleet", 1, 0, "not_run"),
    ]
    refused = records[1]["outcome"]
    assert refused["refusal"]["code"] == "modification_not_allowed" and refused["actions"] == []

    rest = _run("apply", saved, "--local", forge_dir, "--audit-log", audit, "--skip-refused")
    assert rest.exit_code == 3, rest.output
    records = read_audit(audit)[len(records) :]
    assert _entries(records) == [
        (REPO, "canary", 0, 0, "merged"),
        (OTHERS[0], "canary", 0, 1, "refused"),
        (OTHERS[1], "fleet", 1, 0, "not_run"),
    ]
    written = [r for r in records if r["type"] != "outcome"]
    assert written and {r["repo"] for r in written} == {REPO}
    assert {(r["changeset"]["stage"], r["changeset"]["entry_index"]) for r in written} == {
        ("canary", 0)
    }


# --- a run killed mid-write ---------------------------------------------------------------


def test_a_run_killed_during_a_write_leaves_that_write_on_the_record(
    forge_server: ForgeServer, tmp_path: Path
) -> None:
    served, env = _served(forge_server)
    audit = tmp_path / "audit.jsonl"
    hold = 1.0
    served.faults.add(method="PUT", path=".*/merge", delay=hold, times=1, drop="before")
    served.faults.add(operation="^MergePullRequest$", delay=hold, times=1, drop="before")
    args = [
        "apply",
        *map(str, _change(tmp_path, "--automerge")),
        "--yes",
        "--audit-log",
        str(audit),
    ]
    command = [sys.executable, "-m", "prplan", *args]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while not served.faults.injected:
        assert process.poll() is None, "the command ended before the merge was held"
        assert time.monotonic() < deadline, "the merge was never held"
        time.sleep(0.002)
    process.kill()
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    served.faults.release()  # the process is dead: the held merge is dropped now

    records = read_audit(audit)
    assert _kinds(records)[-1] == ("action_started", "merge_pull_request")
    assert "outcome" not in {r["type"] for r in records}
    started = [r["action"]["index"] for r in records if r["type"] == "action_started"]
    ended = [r["action"]["index"] for r in records if r["type"] == "action_finished"]
    assert started[:-1] == ended  # every write but the merge ended on the record

    served.faults.clear()
    again = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    assert again.returncode == 0, again.stderr
    after = read_audit(audit)[len(records) :]
    assert _kinds(after)[-2:] == [("action_finished", "merge_pull_request"), ("outcome", None)]
    assert after[-1]["status"] == "merged" and TOKEN not in audit.read_text()


# --- an audit path that cannot be written ---------------------------------------------------


def _bad_path(tmp_path: Path, kind: str) -> Path:
    if kind == "missing directory":
        return tmp_path / "no-such-dir" / "audit.jsonl"
    if kind == "a directory":
        return tmp_path
    if kind == "under a file":
        (tmp_path / "file").write_text("x")
        return tmp_path / "file" / "audit.jsonl"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked / "audit.jsonl"


@pytest.mark.parametrize(
    "kind",
    [
        "missing directory",
        "a directory",
        "under a file",
        pytest.param(
            "unwritable directory",
            marks=pytest.mark.skipif(
                hasattr(os, "geteuid") and os.geteuid() == 0,
                reason="root writes into any directory: the permission cannot be taken away",
            ),
        ),
    ],
)
@pytest.mark.parametrize("how", ["one go", "change set"])
def test_an_audit_path_that_cannot_be_written_is_refused_before_any_request(
    forge_server: ForgeServer, tmp_path: Path, kind: str, how: str
) -> None:
    served, env = _served(forge_server)
    path = _bad_path(tmp_path, kind)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    what = _change(tmp_path) if how == "one go" else ["--changeset", _changeset(tmp_path)]
    done = _run("apply", *what, "--yes", "--audit-log", path, env=env)
    assert done.exit_code == 1
    assert done.output.startswith("error: --audit-log: "), done.output
    assert str(path.parent if kind != "a directory" else path) in done.output
    assert served.app.log.entries == [], "nothing may be read from the forge first"
    assert not path.is_file()
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert set(after) - set(before) <= {"values.yaml", "v2.yaml", "release.yaml"}
