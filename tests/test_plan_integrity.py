"""apply trusts nothing it did not derive: a hand-edited plan whose digest was
recomputed, a plan other than the reviewed one (--expect-digest), an unsigned
or wrongly signed plan while a plan key is set, and a hostile redacted plan
are all refused (exit 1) before any request reaches the forge. And a change
planned just now is applied only after a yes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import prplan
from prplan.cli import cli
from prplan.core.plan_json import canonical_json
from prplan.forges.local.server.app import ForgeServer

from served import TOKEN, Served, fixed_clock

REPO = "acme/deployments"
BRANCH = "prplan/app-1.4.2"
VALUES = "image:\n  tag: '1.4.1'\ndb_password: s3cr3t\n"
NEW_VALUES = VALUES.replace("1.4.1", "1.4.2")
KEY = "correct horse battery staple"


def _forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory(clock=fixed_clock)
    forge.create_repo(REPO, {"values.yaml": VALUES})
    return forge


def _request(**options: Any) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"values.yaml": NEW_VALUES}, **options
    )


def _state(forge: prplan.LocalForge) -> tuple[object, object]:
    return forge.branches(REPO), forge.pull_requests(REPO)


def _redigest(document: dict[str, Any]) -> str:
    """The document with its plain sha256 recomputed, as a tamperer would."""
    document.pop("signature", None)
    body = {k: v for k, v in document.items() if k != "digest"}
    document["digest"] = hashlib.sha256(canonical_json(body)).hexdigest()
    return json.dumps(document, sort_keys=True, indent=2)


# --- the tamperings -------------------------------------------------------------------


def _add_merge(document: dict[str, Any]) -> None:
    """A merge nobody asked for: the plan was made without automerge."""
    document["actions"].append(
        {"type": "merge_pull_request", "number": None, "expected_head_sha": None,
         "method": "merge", "reason": "looks fine", "brings_commits": [],
         "brings_paths": [], "brings_complete": True}
    )  # fmt: skip


def _commit_to_main(document: dict[str, Any]) -> None:
    """The commit retargeted at base: straight to main, no pull request."""
    commit = next(a for a in document["actions"] if a["type"] == "commit")
    commit["branch"] = "main"
    commit["parent_sha"] = document["observed"]["base_sha"]
    document["actions"] = [commit]


def _swap_content(document: dict[str, Any]) -> None:
    """Other content than was reviewed (the commit's blob sha left alone)."""
    document["request"]["files"]["values.yaml"] = {"text": "image:\n  tag: 'evil'\n"}


TAMPERINGS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "added-merge": (
        _add_merge,
        "actions[3]: the plan merges the pull request it opens (merge), but the planner "
        "derives no such action",
    ),
    "commit-to-main": (
        _commit_to_main,
        "actions[0]: the plan commits 1 file(s) to 'main', but the planner derives: it "
        "creates branch 'prplan/app-1.4.2'",
    ),
    "content-swapped": (_swap_content, "actions[1].files: the plan has"),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_the_api_refuses_a_hand_edited_plan_whose_digest_was_recomputed(tampering: str) -> None:
    forge = _forge()
    request = _request()
    planned = prplan.plan(prplan.observe(forge, request), request)
    edit, says = TAMPERINGS[tampering]
    document = json.loads(planned.to_json())
    edit(document)
    edited = prplan.Plan.from_json(_redigest(document))  # the digest alone lets it through
    before, requests = _state(forge), forge.request_count()

    with pytest.raises(prplan.PlanIntegrityError) as refused:
        prplan.apply(edited, forge)

    assert isinstance(refused.value, prplan.InvalidRequestError)
    assert any(says in str(p) for p in refused.value.problems), refused.value.problems
    assert "make and review a new plan" in str(refused.value)
    assert forge.request_count() == requests, "nothing may be read or written"
    assert _state(forge) == before


def test_the_planners_own_plan_applies_and_every_tampering_changes_it() -> None:
    """The control: the unedited plan passes the same check and applies."""
    forge = _forge()
    request = _request()
    planned = prplan.plan(prplan.observe(forge, request), request)
    for edit, _ in TAMPERINGS.values():
        document = json.loads(planned.to_json())
        edit(document)
        assert prplan.Plan.from_json(_redigest(document)) != planned
    again = prplan.Plan.from_json(planned.to_json())
    outcome = prplan.apply(again, forge, expect_digest=f"sha256:{planned.digest}")
    assert outcome.status is prplan.OutcomeStatus.CREATED
    assert forge.read_file(REPO, BRANCH, "values.yaml") == NEW_VALUES.encode()


def test_a_refused_plan_turned_into_actions_is_refused() -> None:
    forge = _forge()
    request = _request(allow_modification=False)
    refused = prplan.plan(prplan.observe(forge, request), request)
    assert refused.refusal is not None
    planned = prplan.plan(prplan.observe(forge, _request()), _request())
    document = json.loads(refused.to_json())
    document["refusal"] = None
    document["actions"] = json.loads(planned.to_json())["actions"]
    with pytest.raises(prplan.PlanIntegrityError, match="refusal: the plan has None"):
        prplan.apply(prplan.Plan.from_json(_redigest(document)), forge)
    assert forge.branches(REPO).keys() == {"main"}


def test_expect_digest_applies_only_the_reviewed_plan() -> None:
    forge = _forge()
    reviewed = prplan.plan(prplan.observe(forge, _request()), _request())
    other = prplan.plan(prplan.observe(forge, _request(automerge=True)), _request(automerge=True))
    with pytest.raises(prplan.PlanIntegrityError, match="it is not the plan that was reviewed"):
        prplan.apply(other, forge, expect_digest=reviewed.digest)
    with pytest.raises(
        prplan.InvalidRequestError, match="expect_digest: 'abc' is not a plan digest"
    ):
        prplan.apply(other, forge, expect_digest="abc")
    assert forge.branches(REPO).keys() == {"main"}
    assert prplan.apply(reviewed, forge, expect_digest=reviewed.digest).ok


# --- signatures (API) -------------------------------------------------------------------


def test_a_plan_key_lets_only_plans_signed_with_it_through() -> None:
    forge = _forge()
    planned = prplan.plan(prplan.observe(forge, _request()), _request())
    key = KEY.encode()
    signed = planned.to_json(key=key)
    assert json.loads(signed)["signature"] and KEY not in signed
    assert prplan.Plan.from_json(signed, key=key) == planned
    assert prplan.Plan.from_json(signed) == planned  # without a key: not checked
    with pytest.raises(prplan.PlanIntegrityError, match="signature: is missing"):
        prplan.Plan.from_json(planned.to_json(), key=key)
    with pytest.raises(prplan.PlanIntegrityError, match="signature: does not verify"):
        prplan.Plan.from_json(signed, key=b"another key")
    # Editing and re-digesting keeps the old signature, which no longer fits.
    document = json.loads(signed)
    _add_merge(document)
    signature = document["signature"]
    text = _redigest(document)
    resigned = json.loads(text) | {"signature": signature}
    with pytest.raises(prplan.PlanIntegrityError, match="signature: does not verify"):
        prplan.Plan.from_json(json.dumps(resigned), key=key)


# --- hostile redacted plans ---------------------------------------------------------------


def _redacted_with_edits(forge: prplan.LocalForge) -> dict[str, Any]:
    from prplan.edits import YamlSet

    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"values.yaml": (YamlSet(path="image.tag", value="2"),)}
    )
    planned = prplan.plan(prplan.observe(forge, request), request)
    document: dict[str, Any] = json.loads(planned.to_json(redact=True))
    assert document["observed"]["base_contents"]["values.yaml"].keys() == {"redacted"}
    return document


def _contents_a_list(document: dict[str, Any]) -> None:
    document["observed"]["base_contents"] = [document["observed"]["base_contents"]]


def _short_sha(document: dict[str, Any]) -> None:
    document["observed"]["base_contents"]["values.yaml"] = {"redacted": "12345"}


def _traversal_sha(document: dict[str, Any]) -> None:
    document["observed"]["base_contents"]["values.yaml"] = {"redacted": "../../etc"}


def _extra_entry(document: dict[str, Any]) -> None:
    sha = document["observed"]["base_contents"]["values.yaml"]["redacted"]
    document["observed"]["base_contents"]["other.yaml"] = {"redacted": sha}


def _another_blob(document: dict[str, Any]) -> None:
    document["observed"]["base_contents"]["values.yaml"] = {"redacted": "ab" * 20}


def _resolved_not_a_list(document: dict[str, Any]) -> None:
    document["resolved"] = {"values.yaml": document["resolved"][0]}


def _redacted_elsewhere(document: dict[str, Any]) -> None:
    document["observed"]["base_sha"] = {"redacted": "ab" * 20}


HOSTILE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "contents-a-list": (_contents_a_list, "observed.base_contents: must be an object"),
    "sha-12345": (_short_sha, "observed.base_contents['values.yaml']: is not a git blob sha"),
    "sha-traversal": (_traversal_sha, "is not a git blob sha"),
    "extra-entry": (_extra_entry, "observed.base_contents['other.yaml']: is not a file the request edits"),
    "another-blob": (_another_blob, "is not the blob observed.base_blobs names at 'values.yaml'"),
    "resolved-not-a-list": (_resolved_not_a_list, "resolved must be a list"),
    "redacted-elsewhere": (_redacted_elsewhere, "plan.observed.base_sha"),
}  # fmt: skip


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_a_hostile_redacted_plan_is_refused_before_anything_is_read(hostile: str) -> None:
    forge = _forge()
    document = _redacted_with_edits(forge)
    edit, says = HOSTILE[hostile]
    edit(document)
    reads: list[str] = []

    def read_blob(sha: str) -> bytes:
        reads.append(sha)
        return forge.read_blob(REPO, sha)

    with pytest.raises(prplan.PlanFormatError) as refused:
        prplan.Plan.from_json(json.dumps(document), contents={}, read_blob=read_blob)
    assert any(says in str(p) for p in refused.value.problems), refused.value.problems
    assert reads == []


def test_a_well_formed_redacted_plan_is_read_back_and_re_derived() -> None:
    forge = _forge()
    document = _redacted_with_edits(forge)
    restored = prplan.Plan.from_json(
        json.dumps(document), contents={}, read_blob=lambda sha: forge.read_blob(REPO, sha)
    )
    assert prplan.apply(restored, forge).status is prplan.OutcomeStatus.CREATED
    assert forge.read_file(REPO, BRANCH, "values.yaml") == VALUES.replace("'1.4.1'", "'2'").encode()


# --- through the command ------------------------------------------------------------------


@pytest.fixture
def served(forge_server: ForgeServer) -> Served:
    return Served(forge_server, _forge())


def _env(served: Served, **extra: str) -> dict[str, str]:
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": served.server.api_url, "NO_COLOR": "1",
            "PRPLAN_PLAN_KEY": None, **extra}  # type: ignore[dict-item]  # fmt: skip


def _prplan(served: Served, *args: str | Path, **env: str) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=_env(served, **env))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def _change(tmp_path: Path, *extra: str) -> list[str]:
    new = tmp_path / "new.yaml"
    new.write_text(NEW_VALUES)
    return ["--repo", REPO, "--branch", BRANCH, "--file", f"values.yaml={new}", *extra]


def _saved(served: Served, tmp_path: Path, *extra: str, **env: str) -> Path:
    saved = tmp_path / "plan.json"
    planned = _prplan(served, "plan", *_change(tmp_path), *extra, "--out", saved, **env)
    assert planned.exit_code == 2, planned.output
    return saved


def _nothing_reached_the_forge(served: Served, reads: int, before: object) -> None:
    assert served.app.log.writes == 0 and served.app.log.reads == reads
    assert _state(served.forge) == before


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_apply_of_a_hand_edited_plan_exits_1_and_sends_nothing(
    served: Served, tmp_path: Path, tampering: str
) -> None:
    saved = _saved(served, tmp_path)
    edit, says = TAMPERINGS[tampering]
    document = json.loads(saved.read_text())
    edit(document)
    saved.write_text(_redigest(document))
    reads, before = served.app.log.reads, _state(served.forge)

    result = _prplan(served, "apply", saved)

    assert result.exit_code == 1, result.output
    assert f"error: {saved}: {says}" in result.stderr
    assert "Nothing was applied; make and review a new plan" in result.stderr
    _nothing_reached_the_forge(served, reads, before)
    shown = _prplan(served, "show", saved)
    assert shown.exit_code == 1 and says in shown.stderr


def test_apply_expect_digest(served: Served, tmp_path: Path) -> None:
    saved = _saved(served, tmp_path)
    digest = json.loads(saved.read_text())["digest"]
    reads, before = served.app.log.reads, _state(served.forge)
    other = "0" * 64
    wrong = _prplan(served, "apply", saved, "--expect-digest", f"sha256:{other}")
    assert wrong.exit_code == 1
    assert (
        f"error: --expect-digest: is sha256:{other} but this plan's digest is sha256:{digest}"
        in (wrong.stderr)
    )
    malformed = _prplan(served, "apply", saved, "--expect-digest", "latest")
    assert malformed.exit_code == 1
    assert "error: --expect-digest: 'latest' is not a plan digest" in malformed.stderr
    _nothing_reached_the_forge(served, reads, before)
    right = _prplan(served, "apply", saved, "--expect-digest", f"sha256:{digest}")
    assert right.exit_code == 0, right.output
    assert served.forge.read_file(REPO, BRANCH, "values.yaml") == NEW_VALUES.encode()


def test_with_a_plan_key_only_plans_signed_with_it_apply(served: Served, tmp_path: Path) -> None:
    unsigned = _saved(served, tmp_path)
    unsigned = unsigned.rename(tmp_path / "unsigned.json")
    signed = _saved(served, tmp_path, PRPLAN_PLAN_KEY=KEY)
    assert KEY not in signed.read_text() and "signature" in json.loads(signed.read_text())
    reads, before = served.app.log.reads, _state(served.forge)

    missing = _prplan(served, "apply", unsigned, PRPLAN_PLAN_KEY=KEY)
    assert missing.exit_code == 1 and "signature: is missing" in missing.stderr
    removed = json.loads(signed.read_text())
    del removed["signature"]
    stripped = tmp_path / "stripped.json"
    stripped.write_text(json.dumps(removed))
    assert "signature: is missing" in _prplan(served, "apply", stripped, PRPLAN_PLAN_KEY=KEY).stderr
    wrong = _prplan(served, "apply", signed, PRPLAN_PLAN_KEY="another key")
    assert wrong.exit_code == 1 and "signature: does not verify" in wrong.stderr
    empty = _prplan(served, "apply", signed, PRPLAN_PLAN_KEY="")
    assert empty.exit_code == 1 and "error: PRPLAN_PLAN_KEY: is set but empty" in empty.stderr
    for result in (missing, wrong, empty):
        assert KEY not in result.output
    _nothing_reached_the_forge(served, reads, before)

    shown = {
        "verified": _prplan(served, "show", signed, PRPLAN_PLAN_KEY=KEY),
        "wrong": _prplan(served, "show", signed, PRPLAN_PLAN_KEY="another key"),
        "unchecked": _prplan(served, "show", signed),
        "unsigned": _prplan(served, "show", unsigned, PRPLAN_PLAN_KEY=KEY),
    }
    assert all(r.exit_code == 0 for r in shown.values())
    assert "signature: signed; verified with PRPLAN_PLAN_KEY" in shown["verified"].stdout
    assert "signature: signed; DOES NOT VERIFY with PRPLAN_PLAN_KEY" in shown["wrong"].stdout
    assert "signature: signed; not checked: PRPLAN_PLAN_KEY not set" in shown["unchecked"].stdout
    assert "signature: unsigned; apply refuses it" in shown["unsigned"].stdout
    as_json = _prplan(served, "show", signed, "--format", "json", PRPLAN_PLAN_KEY=KEY)
    document = json.loads(signed.read_text())
    del document["signature"]  # the plan itself; the signature's verdict is on stderr
    assert json.loads(as_json.stdout) == document
    assert "verified" in as_json.stderr

    applied = _prplan(served, "apply", signed, PRPLAN_PLAN_KEY=KEY)
    assert applied.exit_code == 0, applied.output
    assert served.forge.read_file(REPO, BRANCH, "values.yaml") == NEW_VALUES.encode()


def test_without_the_key_the_signature_is_not_checked(served: Served, tmp_path: Path) -> None:
    signed = _saved(served, tmp_path, PRPLAN_PLAN_KEY=KEY)
    assert _prplan(served, "apply", signed).exit_code == 0


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_apply_of_a_hostile_redacted_plan_exits_1_before_any_request(
    served: Served, tmp_path: Path, hostile: str
) -> None:
    saved = tmp_path / "plan.json"
    planned = _prplan(served, "plan", "--repo", REPO, "--branch", BRANCH, "--set",
                      "values.yaml:image.tag=2", "--redact-content", "--out", saved)  # fmt: skip
    assert planned.exit_code == 2 and "s3cr3t" not in saved.read_text()
    document = json.loads(saved.read_text())
    edit, says = HOSTILE[hostile]
    edit(document)
    saved.write_text(json.dumps(document))
    reads, before = served.app.log.reads, _state(served.forge)

    result = _prplan(served, "apply", saved)

    assert result.exit_code == 1, result.output
    assert says in result.stderr
    _nothing_reached_the_forge(served, reads, before)


# --- the prompt ------------------------------------------------------------------------


def test_a_one_shot_apply_off_a_terminal_needs_yes(served: Served, tmp_path: Path) -> None:
    result = _prplan(served, "apply", *_change(tmp_path))
    assert result.exit_code == 1
    assert "error: --yes: is required to apply this plan planned just now" in result.stderr
    assert _state(served.forge)[0].keys() == {"main"}  # type: ignore[attr-defined]
    assert _prplan(served, "apply", *_change(tmp_path), "--yes").exit_code == 0


def test_nothing_to_do_needs_no_yes(served: Served, tmp_path: Path) -> None:
    same = tmp_path / "same.yaml"
    same.write_text(VALUES)
    result = _prplan(served, "apply", "--repo", REPO, "--branch", BRANCH,
                     "--file", f"values.yaml={same}")  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin and stdout are a terminal (CliRunner swaps the streams: patch the check)."""
    from prplan.cli import options as cli_module

    monkeypatch.setattr(cli_module, "_on_a_terminal", lambda: True)


def test_declining_the_prompt_exits_1_and_applies_nothing(
    served: Served, tmp_path: Path, terminal: None
) -> None:
    result = CliRunner().invoke(cli, ["apply", *_change(tmp_path)], input="n\n", env=_env(served))
    assert result.exit_code == 1, result.output
    assert "Apply this plan?" in result.output and "Nothing was applied." in result.stderr
    assert served.forge.branches(REPO).keys() == {"main"}
    accepted = CliRunner().invoke(cli, ["apply", *_change(tmp_path)], input="y\n", env=_env(served))
    assert accepted.exit_code == 0, accepted.output
    assert served.forge.read_file(REPO, BRANCH, "values.yaml") == NEW_VALUES.encode()


def test_a_saved_plan_never_asks(served: Served, tmp_path: Path, terminal: None) -> None:
    saved = _saved(served, tmp_path)
    result = CliRunner().invoke(cli, ["apply", str(saved)], input="", env=_env(served))
    assert result.exit_code == 0, result.output
    assert "Apply this plan?" not in result.output


def test_one_shot_change_sets_need_yes_too(served: Served, tmp_path: Path) -> None:
    (tmp_path / "new.yaml").write_text(NEW_VALUES)
    changeset = tmp_path / "set.yaml"
    changeset.write_text(f"version: 1\ndefaults: {{branch: {BRANCH}}}\n"
                         f"changes:\n  - repo: {REPO}\n    files: {{values.yaml: new.yaml}}\n")  # fmt: skip
    result = _prplan(served, "apply", "--changeset", changeset)
    assert result.exit_code == 1 and "--yes: is required to apply this change set" in result.stderr
    assert served.forge.branches(REPO).keys() == {"main"}
    assert _prplan(served, "apply", "--changeset", changeset, "--yes").exit_code == 0
