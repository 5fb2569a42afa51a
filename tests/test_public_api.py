"""The Python API is everything the command does (issue 11, section 4), and
the small things found on the way (section 6): the docs' example runs as
written, every error the docs name can be caught as ``prplan.X``, a forge
closes cleanly, request counts include the observation, and limits GitHub
would enforce only after a commit are refused up front."""

from __future__ import annotations

import builtins
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import prplan
from prplan.cli import cli
from prplan.compat import add_or_modify_files

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REPO = "acme/deployments"
VALUES = "image:\n  tag: '1.4.1'\n"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# --- the docs ----------------------------------------------------------------------------

_TESTED_BLOCK = re.compile(r"<!-- runs in tests/test_public_api.py -->\n```python\n(.*?)```", re.S)


def test_the_api_docs_change_set_example_runs_as_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocks = _TESTED_BLOCK.findall((DOCS / "api.md").read_text(encoding="utf-8"))
    assert len(blocks) == 2, "docs/api.md lost its tested example blocks"
    namespace: dict[str, object] = {}
    for block in blocks:  # one namespace: later blocks build on earlier ones
        exec(compile(block, str(DOCS / "api.md"), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "('acme/configuration', 'merged', True)" in printed
    assert "('acme/cluster-eu1', 'merged', True)" in printed


def test_every_error_the_docs_tell_callers_to_catch_is_part_of_prplan() -> None:
    text = "\n".join(
        p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *DOCS.glob("*.md")]
    )
    named = set(re.findall(r"\b[A-Z][A-Za-z]*(?:Error|Blocked)\b", text))
    ours = sorted(name for name in named if not hasattr(builtins, name))
    assert "EditError" in ours and "StalePlanError" in ours  # the scan finds what it should
    for name in ours:
        error = getattr(prplan, name, None)
        assert isinstance(error, type) and issubclass(error, prplan.PrplanError), name
        assert name in prplan.__all__, name


def test_the_concepts_name_every_refusal_code() -> None:
    text = (DOCS / "concepts.md").read_text(encoding="utf-8")
    missing = [code.value for code in prplan.RefusalCode if f"`{code.value}`" not in text]
    assert missing == []


def test_the_change_set_and_edit_api_is_public() -> None:
    for name in (
        "ChangeSet", "ChangeSetStage", "Goal", "load_changeset", "plan_changeset",
        "apply_changeset", "ChangeSetPlan", "ChangeSetResult", "EntryResult",
        "YamlSet", "YamlDelete", "JsonSet", "JsonDelete", "Replace", "counting_requests",
    ):  # fmt: skip
        assert name in prplan.__all__ and hasattr(prplan, name), name


# --- change sets built in code ----------------------------------------------------------


def _request(repo: str, **fields: object) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(repo=repo, branch="release/1", files={"a.txt": "a\n"}, **fields)  # type: ignore[arg-type]


def test_a_change_set_built_in_code_reports_every_problem_at_once() -> None:
    with pytest.raises(prplan.InvalidRequestError) as caught:
        prplan.ChangeSet(
            stages=[
                prplan.ChangeSetStage(name="one", requests=[_request("acme/a"), "acme/b"]),  # type: ignore[list-item]
                prplan.ChangeSetStage(name="two", requests=[], require="mergd"),  # type: ignore[arg-type]
                prplan.ChangeSetStage(name="three", requests=[_request("acme/a")]),
            ]
        )
    problems = {(p.field, p.message) for p in caught.value.problems}
    assert ("stages[0].requests[1]", "must be a ChangeRequest, got str") in problems
    assert ("stages[1].requests", "must hold at least one ChangeRequest") in problems
    assert any(f == "stages[1].require" and "'mergd'" in m for f, m in problems)
    assert any(f == "stages[2].requests[0]" and "once per set" in m for f, m in problems)
    with pytest.raises(prplan.InvalidRequestError, match="at least one ChangeSetStage"):
        prplan.ChangeSet(stages=[])


def test_a_change_set_goal_may_be_given_by_name() -> None:
    stage = prplan.ChangeSetStage(name="s", requests=[_request("acme/a")], require="applied")  # type: ignore[arg-type]
    assert stage.require is prplan.Goal.APPLIED
    assert prplan.ChangeSet(stages=[stage]).requests == [_request("acme/a")]


def test_a_change_set_loads_from_a_file_with_paths_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("new\n")
    file = tmp_path / "release.yaml"
    file.write_text(
        "version: 1\ndefaults: {branch: release/1}\n"
        "changes:\n  - repo: acme/a\n    files: {a.txt: out/a.txt}\n"
    )
    loaded = prplan.ChangeSet.load(file)
    assert loaded == prplan.load_changeset(file)
    assert loaded.requests[0].files == {"a.txt": b"new\n"}


# --- compat -----------------------------------------------------------------------------


class _Repo:
    name = REPO
    master_branch = "main"


def test_compat_returns_the_open_pull_request_when_it_found_nothing_to_do() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": VALUES})
    files = {"values.yaml": VALUES.replace("1.4.1", "1.4.2")}
    args = (forge, _Repo(), "prplan/bump", None, "deployer", files)
    first = add_or_modify_files(*args, create_pr=True, automerge=False, allow_modification=True)
    again = add_or_modify_files(*args, create_pr=True, automerge=False, allow_modification=True)
    assert first.status is prplan.OutcomeStatus.CREATED and first.pull_request is not None
    assert again.status is prplan.OutcomeStatus.UNCHANGED
    assert again.pull_request == first.pull_request
    assert again.pull_request_url == first.pull_request_url


def test_compat_refuses_an_identity_that_would_break_the_title_before_any_write() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": VALUES})
    with pytest.raises(prplan.InvalidRequestError) as caught:
        add_or_modify_files(
            forge, _Repo(), "prplan/bump", None, "deployer\nInjected: yes", {"values.yaml": "x\n"},
            create_pr=True, automerge=False, allow_modification=True,
        )  # fmt: skip
    assert [p.field for p in caught.value.problems] == ["identity"]
    assert set(forge.branches(REPO)) == {"main"}


# --- what GitHub would refuse only after the commit -------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"title": "x" * 257}, "title", "is 257 characters; GitHub allows at most 256"),
        ({"title": "Deploy\n1.4.2"}, "title", "control character"),
        ({"title": "Deploy\t1.4.2"}, "title", "control character"),
        ({"body": "x" * 65537}, "body", "is 65537 characters; GitHub allows at most 65536"),
        ({"branch": "b" * 250}, "title", "the default title"),
    ],
)
def test_pull_request_text_github_would_refuse_is_refused_at_validation(
    fields: dict[str, object], field: str, says: str
) -> None:
    given = {"repo": REPO, "branch": "prplan/x", "files": {"a": "a"}, **fields}
    with pytest.raises(prplan.InvalidRequestError) as caught:
        prplan.ChangeRequest(**given)  # type: ignore[arg-type]
    assert [(p.field, says in p.message) for p in caught.value.problems] == [(field, True)]


def test_pull_request_text_at_githubs_limits_is_accepted() -> None:
    request = prplan.ChangeRequest(
        repo=REPO, branch="prplan/x", files={"a": "a"}, title="x" * 256, body="y\n" * 32768
    )
    assert len(request.pr_title) == 256


# --- the local forge closes cleanly -----------------------------------------------------


def test_local_forge_is_a_context_manager_that_closes_it(tmp_path: Path) -> None:
    with prplan.LocalForge.open(tmp_path / "forge") as forge:
        forge.create_repo(REPO, {"values.yaml": VALUES})
        assert forge.read_file(REPO, "main", "values.yaml") == VALUES.encode()
    with pytest.raises(Exception, match="closed"):
        forge.read_file(REPO, "main", "values.yaml")
    forge.close()  # idempotent
    with prplan.LocalForge.open(tmp_path / "forge") as reopened:
        assert reopened.read_file(REPO, "main", "values.yaml") == VALUES.encode()


def _git(*args: str, cwd: Path, home: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}  # fmt: skip
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_reading_a_pushed_forge_and_exiting_prints_no_tracebacks(tmp_path: Path) -> None:
    """The report: after `git push` to a served forge, a script that opens the
    directory, reads a file and exits (never closing it) printed dulwich's
    ``Pack.__del__`` tracebacks at interpreter exit."""
    directory = tmp_path / "forge"
    with prplan.LocalForge.open(directory) as seed:
        seed.create_repo(REPO, {"values.yaml": VALUES})
    serve = subprocess.Popen(
        [sys.executable, "-m", "prplan", "forge", "serve", "--data", str(directory), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        banner = serve.stdout.readline()
        url = re.search(r"http://[\w.:]+", banner)
        assert url is not None, banner
        base = url.group(0).removesuffix("/api/v3")
        work = tmp_path / "work"
        _git("clone", "-q", f"{base}/{REPO}.git", str(work), cwd=tmp_path, home=tmp_path)
        (work / "pushed.txt").write_text("pushed\n")
        _git("add", "pushed.txt", cwd=work, home=tmp_path)
        _git("commit", "-qm", "Pushed with git", cwd=work, home=tmp_path)
        _git("push", "-q", "origin", "main", cwd=work, home=tmp_path)
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    script = (
        "import prplan\n"
        f"print(prplan.LocalForge.open({str(directory)!r}).read_file({REPO!r}, 'main', 'pushed.txt'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "b'pushed\\n'\n"
    assert done.stderr == ""


# --- the command ------------------------------------------------------------------------


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    for repo in (REPO, "acme/other"):
        with prplan.LocalForge.open(tmp_path / "forge") as forge:
            forge.create_repo(repo, {"values.yaml": VALUES})
    (tmp_path / "values.yaml").write_text(VALUES.replace("1.4.1", "1.4.2"))
    return tmp_path / "forge"


def _changeset(tmp_path: Path, defaults: str = "{branch: release/1, automerge: true}") -> Path:
    file = tmp_path / "release.yaml"
    file.write_text(
        f"version: 1\ndefaults: {defaults}\nchanges:\n"
        "  - repo: acme/deployments\n    files: {values.yaml: values.yaml}\n"
        "  - repo: acme/other\n    files: {values.yaml: values.yaml}\n"
    )
    return file


def test_a_change_set_default_typo_prints_only_the_good_error(
    tmp_path: Path, forge_dir: Path
) -> None:
    file = _changeset(tmp_path, defaults="{branch: release/1, automerg: true}")
    result = run("plan", "--changeset", file, "--local", forge_dir)
    assert result.exit_code == 1
    assert "defaults.automerg: is not a request field" in result.output
    assert "unexpected keyword" not in result.output
    assert result.output.count("automerg") == 1


def test_a_one_shot_apply_counts_its_observation(tmp_path: Path, forge_dir: Path) -> None:
    result = run(
        "apply", "--repo", REPO, "--local", forge_dir, "--branch", "prplan/x",
        "--file", f"values.yaml={tmp_path / 'values.yaml'}", "--yes", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    requests = json.loads(result.stdout)["requests"]
    # The observation alone reads the default branch, the branches and the pull requests.
    assert requests["reads"] >= 3 and requests["writes"] >= 2, requests


def test_a_change_set_counts_each_entrys_observation(tmp_path: Path, forge_dir: Path) -> None:
    file = _changeset(tmp_path)
    one_shot = run("apply", "--changeset", file, "--local", forge_dir, "--yes", "--format", "json")
    assert one_shot.exit_code == 0, one_shot.output
    entries = json.loads(one_shot.stdout)["entries"]
    assert [e["status"] for e in entries] == ["merged", "merged"]
    assert all(e["requests"]["reads"] >= 3 for e in entries), entries
    # A saved plan is checked again before it is applied: that check counts.
    saved = tmp_path / "again.json"
    assert run("plan", "--changeset", file, "--local", forge_dir, "--out", saved).exit_code == 0
    applied = run("apply", saved, "--local", forge_dir, "--format", "json")
    assert applied.exit_code == 0, applied.output
    reads = [e["requests"]["reads"] for e in json.loads(applied.stdout)["entries"]]
    assert all(count >= 3 for count in reads), reads


def test_requests_are_counted_per_thread() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": VALUES})
    with prplan.counting_requests() as outer:
        forge.read_file(REPO, "main", "values.yaml")  # the test helper: no request
        forge.default_branch(REPO)
        with prplan.counting_requests() as inner:
            forge.branch_sha(REPO, "main")
    assert (outer.count.reads, inner.count.reads) == (2, 1)


def test_apply_refuses_repo_with_a_saved_change_set_plan(tmp_path: Path, forge_dir: Path) -> None:
    saved = tmp_path / "release-plan.json"
    planned = run("plan", "--changeset", _changeset(tmp_path), "--local", forge_dir, "--out", saved)
    assert planned.exit_code == 2, planned.output
    result = run("apply", saved, "--repo", "acme/other", "--local", forge_dir)
    assert result.exit_code == 1
    assert "--repo: a saved change set plan names its own repositories" in result.output
    with prplan.LocalForge.open(forge_dir) as forge:
        assert set(forge.branches("acme/other")) == {"main"}  # nothing applied
        assert forge.pull_requests(REPO) == []


# --- the README's quickstart runs as written --------------------------------------------


def test_the_readme_quickstart_runs_as_written(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart: the command", 1)[1].split("\n## ", 1)[0]
    script = re.findall(r"```sh\n(.*?)```", section, re.S)[0]
    prplan_command = f"{sys.executable} -m prplan"
    script = script.replace(".venv/bin/prplan", prplan_command)
    done = subprocess.run(
        ["bash", "-c", "set -e\n" + script.replace("# exit 2", "|| test $? = 2 # exit 2")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    written = {path.relative_to(tmp_path).parts[0] for path in tmp_path.iterdir()}
    assert written and all(f"{name}/" in ignored for name in written), written
    with prplan.LocalForge.open(tmp_path / "try" / "forge") as forge:
        assert (
            forge.read_file("acme/deployments", "main", "apps/app/values.yaml")
            == (tmp_path / "try" / "out" / "values.yaml").read_bytes()
        )
        assert "prplan/app-1.4.2" not in forge.branches("acme/deployments")  # --delete-branch
