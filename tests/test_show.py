"""Plans a reviewer reads offline (issue 11, sections 1 and 2): `prplan show`
of every kind of saved plan without a forge, diffs in text and Markdown, and
Markdown that fits a pull-request comment and survives hostile names."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result

import prplan
from prplan.cli import cli
from prplan.cli.render import View, plan_text
from prplan.cli.render_md import code, plan_markdown, prose
from prplan.core.plan_json import canonical_json
from prplan.run.review import with_review

from served import fixed_clock

GOLDEN = Path(__file__).parent / "golden"
REPO = "acme/deployments"
VALUES = "image:\n  repository: registry.example.com/acme/app\n  tag: '1.4.1'\nreplicas: 3\n"
CANARY = ["acme/helm-canary"]
FLEET = ["acme/helm-eu", "acme/helm-us", "acme/helm-ap"]
CHART = "# api chart values\nimage:\n  repository: registry.example.com/acme/api\n  tag: 1.4.1\nreplicas: 2\n"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), "run with UPDATE_GOLDEN=1 to accept a deliberate change"


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    forge = prplan.LocalForge.open(tmp_path / "forge", clock=fixed_clock)
    forge.create_repo(REPO, {"apps/app/values.yaml": VALUES, "apps/old.yaml": "old: true\n"})
    for repo in CANARY + FLEET:
        forge.create_repo(repo, {"charts/api/values.yaml": CHART})
    forge.close()
    return tmp_path / "forge"


def _saved(forge_dir: Path, tmp_path: Path, *extra: str) -> Path:
    new = tmp_path / "values.yaml"
    new.write_text(VALUES.replace("1.4.1", "1.4.2"))
    saved = tmp_path / "plan.json"
    result = run("plan", "--repo", REPO, "--local", forge_dir, "--branch", "prplan/app-1.4.2",
                 "--file", f"apps/app/values.yaml={new}", "--delete", "apps/old.yaml",
                 "--title", "Deploy app 1.4.2", "--automerge", "--out", saved, *extra)  # fmt: skip
    assert result.exit_code == 2, result.output
    return saved


def _without_forge(forge_dir: Path) -> None:
    """Showing must not need the forge: it is gone."""
    shutil.rmtree(forge_dir)


# --- section 1: show any saved plan, offline -------------------------------------------


def test_show_needs_no_forge_and_shows_diffs_in_every_format(
    forge_dir: Path, tmp_path: Path
) -> None:
    saved = _saved(forge_dir, tmp_path)
    _without_forge(forge_dir)
    text = run("show", saved)
    assert text.exit_code == 0, text.output
    assert "-  tag: '1.4.1'" in text.output and "+  tag: '1.4.2'" in text.output
    assert "-old: true" in text.output and "brings only prplan's commit" in text.output
    markdown = run("show", saved, "--format", "markdown")
    assert "```diff\n@@ -1,4 +1,4 @@" in markdown.output
    as_json = run("show", saved, "--format", "json")
    assert json.loads(as_json.stdout) == json.loads(saved.read_text())
    assert json.loads(saved.read_text())["format_version"] == 4


def test_the_text_plan_matches_its_golden_file(forge_dir: Path, tmp_path: Path) -> None:
    saved = _saved(forge_dir, tmp_path)
    text = run("show", saved).stdout
    assert text.startswith("prplan plan for ")  # golden() compares the rest, byte for byte
    golden("plan.txt", text)


def test_no_diff_and_no_diagram_leave_them_out(forge_dir: Path, tmp_path: Path) -> None:
    saved = _saved(forge_dir, tmp_path)
    text = run("show", saved, "--no-diff").output
    assert "~ apps/app/values.yaml" in text and "+  tag" not in text and "@@" not in text
    markdown = run("show", saved, "--format", "markdown", "--no-diff", "--no-diagram").output
    assert "`apps/app/values.yaml` (modify)" in markdown
    assert "```diff" not in markdown and "mermaid" not in markdown


def test_text_diffs_are_coloured_on_a_terminal(
    forge_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prplan.cli import output as cli_module

    saved = _saved(forge_dir, tmp_path)
    assert "\x1b[" not in run("show", saved).output  # not a terminal
    monkeypatch.setattr(cli_module, "_colour_enabled", lambda: True)
    coloured = run("show", saved).output
    assert "\x1b[32m         +  tag: '1.4.2'\x1b[0m" in coloured
    assert "\x1b[31m         -  tag: '1.4.1'\x1b[0m" in coloured


def _as_version_3(saved: Path) -> None:
    """The plan as the previous prplan saved it: no review contents."""
    plan = prplan.Plan.from_json(saved.read_text())
    saved.write_text(attrs.evolve(plan, review=None, format_version=3).to_json())


def test_a_version_3_plan_still_loads_shows_and_applies(forge_dir: Path, tmp_path: Path) -> None:
    saved = _saved(forge_dir, tmp_path)
    _as_version_3(saved)
    assert "review" not in json.loads(saved.read_text())
    offline = run("show", saved, "--format", "markdown")
    assert offline.exit_code == 0, offline.output
    assert "diff unavailable: a format version 3 plan carries no prior contents" in offline.output
    assert "(format version 3)" in offline.output
    text = run("show", saved).output
    assert "(diff unavailable: a format version 3 plan" in text
    read = run("show", saved, "--local", forge_dir)  # the forge named: diffs read from it
    assert "+  tag: '1.4.2'" in read.output
    applied = run("apply", saved, "--local", forge_dir)
    assert applied.exit_code == 0, applied.output
    forge = prplan.LocalForge.open(forge_dir)
    assert b"1.4.2" in (forge.read_file(REPO, "main", "apps/app/values.yaml") or b"")


def test_a_redacted_plan_is_shown_offline_with_its_diffs_withheld(
    forge_dir: Path, tmp_path: Path
) -> None:
    saved = _saved(forge_dir, tmp_path, "--redact-content")
    document = json.loads(saved.read_text())
    assert all(set(b["content"]) == {"redacted"} for b in document["review"]["blobs"])
    assert "1.4.1" not in saved.read_text()  # the old content is withheld too
    copy = tmp_path / "forge-copy"
    shutil.copytree(forge_dir, copy)
    _without_forge(forge_dir)
    for fmt in ("text", "markdown"):
        shown = run("show", saved, "--format", fmt)
        assert shown.exit_code == 0, shown.output
        assert "diff withheld: the plan carries digests only (--redact-content)" in shown.output
        assert "1.4.1" not in shown.output
    assert (
        "not checked: the plan carries digests only"
        in run("show", saved, "--format", "markdown").output
    )
    # and it still applies with the same file given again (old blobs read back by sha)
    applied = run("apply", saved, "--local", copy, "--file",
                  f"apps/app/values.yaml={tmp_path / 'values.yaml'}")  # fmt: skip
    assert applied.exit_code == 0, applied.output


def _redigest(document: dict[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k not in ("digest", "signature")}
    document["digest"] = hashlib.sha256(canonical_json(body)).hexdigest()
    return json.dumps(document)


@pytest.mark.parametrize("redigest", [True, False], ids=["digest-recomputed", "digest-kept"])
def test_an_edited_before_text_is_refused_by_show_and_apply(
    forge_dir: Path, tmp_path: Path, redigest: bool
) -> None:
    saved = _saved(forge_dir, tmp_path)
    document = json.loads(saved.read_text())
    blob = next(b for b in document["review"]["blobs"] if "1.4.1" in b["content"]["text"])
    blob["content"]["text"] = blob["content"]["text"].replace("1.4.1", "1.4.2")  # "no change"
    saved.write_text(_redigest(document) if redigest else json.dumps(document))
    for command in (["show", saved], ["apply", saved, "--local", forge_dir]):
        result = run(*command)
        assert result.exit_code == 1, result.output
        assert (
            "review.blobs[" in result.output and "edited after the plan was made" in result.output
        )
    assert prplan.LocalForge.open(forge_dir).branches(REPO).keys() == {"main"}


def test_a_blob_the_plan_does_not_name_is_refused(forge_dir: Path, tmp_path: Path) -> None:
    saved = _saved(forge_dir, tmp_path)
    document = json.loads(saved.read_text())
    content = "anything: true\n"
    sha = prplan.git_blob_sha(content.encode())
    document["review"]["blobs"].append({"sha": sha, "content": {"text": content}})
    saved.write_text(_redigest(document))
    result = run("show", saved)
    assert (
        result.exit_code == 1
        and "is not a blob the plan changes or a merge brings" in result.output
    )


def test_a_review_in_a_version_3_document_is_refused(forge_dir: Path, tmp_path: Path) -> None:
    saved = _saved(forge_dir, tmp_path)
    document = json.loads(saved.read_text())
    document["format_version"] = 3
    saved.write_text(_redigest(document))
    result = run("show", saved)
    assert result.exit_code == 1 and "review: is not part of a version 3 plan" in result.output


# --- change sets ----------------------------------------------------------------------------


def _changeset(tmp_path: Path) -> Path:
    (tmp_path / "chart.yaml").write_text(CHART.replace("1.4.1", "1.4.2"))
    document = {
        "version": 1,
        "defaults": {"automerge": True, "title": "Release api 1.4.2", "branch": "release/api-1.4.2"},
        "stages": [
            {"name": "canary", "changes": [
                {"repo": repo, "set": {"charts/api/values.yaml": {"image.tag": "1.4.2"}}} for repo in CANARY
            ]},
            {"name": "fleet", "changes": [
                {"repo": repo, "files": {"charts/api/values.yaml": "chart.yaml"}} for repo in FLEET
            ]},
        ],
    }  # fmt: skip
    path = tmp_path / "release.yaml"
    path.write_text(json.dumps(document))
    return path


def test_a_saved_change_set_is_shown_in_every_format_without_a_forge(
    forge_dir: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "set.json"
    planned = run("plan", "--changeset", _changeset(tmp_path), "--local", forge_dir,
                  "--out", saved, "--format", "markdown")  # fmt: skip
    assert planned.exit_code == 2, planned.output
    _without_forge(forge_dir)
    markdown = run("show", saved, "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    document = planned.stdout
    signature = "signature: unsigned; not checked: PRPLAN_PLAN_KEY not set\n"
    assert markdown.stdout == document  # what `plan` showed, `show` shows
    assert markdown.stderr == signature  # the verdict is not part of the comment
    golden("changeset.md", document)
    lines = document.splitlines()
    # the lifecycle diagram has 7 more lines (issue 14), and 5 more for disarm_merge
    assert len(lines) < 135, len(lines)
    assert document.count("```mermaid") == 1
    headings = [line.split(" ")[0] for line in lines if line.startswith("#")]
    assert headings == ["#", "##", "###", "##", "###", "###", "###"]  # document, stage, change
    assert "none (none)" not in document and "](" not in document  # no relative links
    assert document.count("The merge brings only prplan's own commit") == 4
    summary = [line for line in lines if re.match(r"^\| \d ", line)]
    assert len(summary) == 4 and all("+1 -1" in row and "| new |" in row for row in summary)
    text = run("show", saved)
    assert text.exit_code == 0 and text.output.count("+  tag: 1.4.2") == 4
    assert "== stage fleet: 3 repositories" in text.output
    as_json = run("show", saved, "--format", "json")
    assert json.loads(as_json.stdout) == json.loads(saved.read_text())


def test_a_version_3_change_set_still_shows_and_applies(forge_dir: Path, tmp_path: Path) -> None:
    from prplan.run.changeset import ChangeSetPlan

    saved = tmp_path / "set.json"
    run("plan", "--changeset", _changeset(tmp_path), "--local", forge_dir, "--out", saved)
    the_set = ChangeSetPlan.from_dict(json.loads(saved.read_text()))
    old = attrs.evolve(
        the_set,
        format_version=3,
        stages=tuple(
            (name, tuple(attrs.evolve(p, review=None, format_version=3) for p in plans))
            for name, plans in the_set.stages
        ),
    )
    saved.write_text(old.to_json())
    shown = run("show", saved, "--format", "markdown")
    assert shown.exit_code == 0, shown.output
    assert shown.output.count("diff unavailable: a format version 3 plan") == 4
    applied = run("apply", saved, "--local", forge_dir, "--format", "json")
    assert applied.exit_code == 0, applied.output
    assert [e["status"] for e in json.loads(applied.stdout)["entries"]] == ["merged"] * 4


# --- section 2: Markdown-safe -------------------------------------------------------------

HOSTILE_BRANCH = "rel/`x`|<b>y</b>&amp;#1"
HOSTILE_PATH = "dir/a|b``c`<img src=x onerror=alert(1)>.yaml"
HOSTILE_TITLE = "Deploy | `1.4.2` <script>alert(1)</script> **bold** [link](http://x)"
HOSTILE_SUMMARY = "fix: ```\n# not a heading | <details> `x`"


def _hostile_plan() -> prplan.Plan:
    forge = prplan.LocalForge.in_memory(clock=fixed_clock)
    forge.create_repo(REPO, {"app.yaml": "v: 1\n", HOSTILE_PATH: "a: 1\n"})
    forge.push(REPO, HOSTILE_BRANCH, {"ci/`x`|<i>.sh": "echo ```\n"}, message=HOSTILE_SUMMARY,
               author="Mallory | <b>M</b> <m@example.com>")  # fmt: skip
    forge.create_pull_request(REPO, head=HOSTILE_BRANCH, base="main", title=HOSTILE_TITLE, body="")
    request = prplan.ChangeRequest(
        repo=REPO, branch=HOSTILE_BRANCH, title=HOSTILE_TITLE, automerge=True,
        merge_foreign_commits=True,
        files={"app.yaml": b"v: 2\n", HOSTILE_PATH: b"a: '```'\n| x |\n<b>\n"},
    )  # fmt: skip
    plan = prplan.plan(prplan.observe(forge, request), request)
    return with_review(plan, forge)


def _outside_code(line: str) -> str:
    """The line without its code spans (a run of backticks to the same run)
    and our own tags: what a Markdown renderer reads as Markdown or HTML."""
    line = re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", line)
    return re.sub(r"</?(details|summary|code)>", "", line)


def test_hostile_names_cannot_break_out_of_cells_spans_or_blocks() -> None:
    plan = _hostile_plan()
    assert plan.refusal is None, plan.refusal
    document = plan_markdown(plan)
    golden("hostile.md", document)
    in_fence = ""
    for line in document.splitlines():
        fence = re.match(r"^(`{3,})", line)
        if in_fence:
            in_fence = "" if line == in_fence else in_fence
            continue
        if fence:
            in_fence = fence.group(1)
            continue
        assert "<" not in _outside_code(line), line  # no HTML of theirs outside code
        if line.startswith("#"):
            assert re.match(r"^#{1,3} (prplan|`)", line), line  # only our headings
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            assert len(cells) - 2 in (4, 8), line  # the table's own columns only
    assert not in_fence  # every block closed
    assert code(HOSTILE_BRANCH).startswith("``") and "\n" not in prose(HOSTILE_SUMMARY)


def test_hostile_names_in_text_cannot_inject_terminal_sequences() -> None:
    plan = _hostile_plan()
    text = plan_text(plan, view=View())
    assert "\x1b" not in text and HOSTILE_BRANCH in text
