"""`prplan forge` commands a person drives (issue 11, section 5), through the
command line: on a forge directory alone, and on a directory that
`prplan forge serve` serves at the same time, reading results back over HTTP.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import prplan
from prplan.cli import cli
from prplan.forges.local.server.app import ForgeApp, ForgeServer

from served import ContractCheck

REPO = "acme/app"
ALICE, BOB, PRPLAN = "alice-token-0001", "bob-token-0002", "prplan-token-0003"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["forge", *[str(a) for a in args]])


def ok(*args: str | Path) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def data(tmp_path: Path) -> Path:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "values.yaml").write_text("tag: 1\n")
    (seed / "README.md").write_text("app\n")
    ok("create-repo", REPO, "--data", tmp_path / "forge", "--from", seed)
    return tmp_path / "forge"


def work_dir(tmp_path: Path, files: dict[str, bytes], name: str = "work") -> Path:
    root = tmp_path / name
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return root


def pr_lines(data: Path, state: str = "all") -> list[list[str]]:
    return [line.split() for line in ok("prs", REPO, "--data", data, "--state", state).splitlines()]


# --- on a directory ---------------------------------------------------------------------


def test_a_person_pushes_opens_merges_and_reads_it_all_back(data: Path, tmp_path: Path) -> None:
    work = work_dir(tmp_path, {"values.yaml": b"tag: 2\n", "bin/run": b"#!/bin/sh\n\xff\x00"})
    (work / "bin" / "run").chmod(0o755)

    said = ok("push", REPO, "feature", "--from", work, "--data", data,
              "--author", "Ann Example <ann@example.com>", "-m", "Bump the tag")  # fmt: skip
    assert said.startswith(f"pushed {REPO} feature at ") and "2 file(s)" in said

    forge = prplan.LocalForge.open(data)
    head = forge.branches(REPO)["feature"]
    # One commit on main whose tree is exactly DIR's content: README.md is gone.
    assert forge.commit_parents(REPO, head) == [forge.branches(REPO)["main"]]
    assert forge.files(REPO, "feature") == {
        "values.yaml": b"tag: 2\n",
        "bin/run": b"#!/bin/sh\n\xff\x00",
    }
    modes = {e.path: e.mode for e in forge.git_tree_entries(REPO, head, recursive=True)}
    assert modes["bin/run"] == 0o100755 and modes["values.yaml"] == 0o100644
    main = forge.branches(REPO)["main"]
    forge.close()

    assert ok("branches", REPO, "--data", data).splitlines() == [
        f"   feature  {head[:7]}",
        f"*  main     {main[:7]}",
    ]
    log = ok("log", REPO, "feature", "--data", data).splitlines()
    assert log[0] == f"{head[:7]}  Ann Example  Bump the tag"
    assert log[1].endswith("Initial commit") and len(log) == 2
    assert ok("log", REPO, "feature", "-n", "1", "--data", data).splitlines() == log[:1]
    assert (
        run("cat", REPO, "feature", "bin/run", "--data", data).stdout_bytes
        == b"#!/bin/sh\n\xff\x00"
    )
    assert ok("cat", REPO, head, "values.yaml", "--data", data) == "tag: 2\n"  # a commit sha too

    assert ok("open-pr", REPO, "--head", "feature", "--title", "Bump the tag", "--as", "alice",
              "--data", data) == f"opened {REPO}#1: feature → main by alice\n"  # fmt: skip
    assert ok("prs", REPO, "--data", data) == "#1  feature → main  alice  open  Bump the tag\n"

    merged = ok("merge-pr", REPO, "1", "--method", "squash", "--as", "bob", "--data", data)
    assert merged.startswith(f"merged {REPO}#1 into main at ") and merged.endswith(
        "(squash) by bob\n"
    )
    assert ok("prs", REPO, "--data", data) == f"no open pull requests in {REPO}\n"
    assert pr_lines(data) == [
        ["#1", "feature", "→", "main", "alice", "merged", "Bump", "the", "tag"]
    ]
    assert ok("cat", REPO, "main", "values.yaml", "--data", data) == "tag: 2\n"
    assert (
        run("cat", REPO, "main", "README.md", "--data", data).exit_code == 1
    )  # the squash deleted it
    assert ok("repos", "--data", data) == f"{REPO}  main\n"


def test_push_of_unchanged_content_commits_nothing(data: Path, tmp_path: Path) -> None:
    same = work_dir(tmp_path, {"values.yaml": b"tag: 1\n", "README.md": b"app\n"})
    forge = prplan.LocalForge.open(data)
    main = forge.branches(REPO)["main"]

    said = ok("push", REPO, "main", "--from", same, "--data", data)
    assert "already has" in said and "nothing committed" in said
    # A new branch with the default branch's content is the branch, at main.
    said = ok("push", REPO, "copy", "--from", same, "--data", data)
    assert "created at the default branch" in said
    assert forge.branches(REPO) == {"main": main, "copy": main}
    forge.close()


def test_prs_filters_by_state_and_close_pr_closes(data: Path, tmp_path: Path) -> None:
    for branch in ("one", "two"):
        ok("push", REPO, branch, "--from", work_dir(tmp_path, {f"{branch}.txt": b"x\n"}, branch),
           "--data", data)  # fmt: skip
        ok("open-pr", REPO, "--head", branch, "--title", f"Add {branch}", "--data", data)

    assert ok("close-pr", REPO, "2", "--data", data) == f"closed {REPO}#2\n"
    assert ok("close-pr", REPO, "2", "--data", data) == f"{REPO}#2 was already closed\n"
    assert [line[0] for line in pr_lines(data, "open")] == ["#1"]
    assert pr_lines(data, "closed") == [["#2", "two", "→", "main", "human", "closed", "Add", "two"]]
    assert [line[0] for line in pr_lines(data, "all")] == ["#1", "#2"]
    # The closed pull request's branch stays.
    assert "two" in prplan.LocalForge.open(data).branches(REPO)


def test_prs_escapes_control_characters_in_titles(data: Path, tmp_path: Path) -> None:
    forge = prplan.LocalForge.open(data)
    forge.push(REPO, "x", {"x.txt": "x\n"})
    forge.open_pr(REPO, "x", title="line one\nline two \x1b[31mred")  # as the REST API allows
    forge.close()
    assert ok("prs", REPO, "--data", data) == (
        "#1  x → main  human  open  line one\\x0aline two \\x1b[31mred\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prs", "acme"], "error: REPO: 'acme' is not 'owner/name'"),
        (["prs", "acme/nope"], "error: REPO: no repository 'acme/nope' in"),
        (["branches", "acme/nope"], "(it has: acme/app)"),
        (["log", REPO, "nope"], "error: BRANCH: no branch or commit 'nope' in acme/app (branches: main;"),
        (["cat", REPO, "main", "nope.txt"], "error: PATH: acme/app has no file 'nope.txt' at main"),
        (["cat", REPO, "0" * 40, "values.yaml"], "error: REF: no branch or commit '0000"),
        (["open-pr", REPO, "--head", "nope", "--title", "t"], "error: --head: no branch 'nope' in acme/app"),
        (["open-pr", REPO, "--head", "a..b", "--title", " "], "error: --head:"),
        (["open-pr", REPO, "--head", "main", "--title", " "], "error: --title: is empty"),
        (["open-pr", REPO, "--head", "main", "--title", "a\nb"], "error: --title: contains a newline"),
        (["open-pr", REPO, "--head", "main", "--title", "t", "--as", "-x"], "error: --as: '-x' is not a login"),
        (["open-pr", REPO, "--head", "main", "--title", "t" * 257], "error: --title: is 257 characters; GitHub allows 256"),
        (["open-pr", REPO, "--head", "main", "--title", "t", "--body", "b" * 65_537], "error: --body: is 65537"),
        (["merge-pr", REPO, "7"], "error: NUMBER: acme/app has no pull request #7 (it has 0)"),
        (["close-pr", REPO, "7"], "error: NUMBER: acme/app has no pull request #7"),
        (["push", REPO, "bad..name", "--from", "."], "error: BRANCH:"),
        (["push", REPO, "b", "--from", ".", "--author", "Ann"], "error: --author: 'Ann' is not 'Name <email>'"),
    ],
)  # fmt: skip
def test_bad_input_exits_1_naming_the_argument_and_changes_nothing(
    data: Path, args: list[str], message: str
) -> None:
    before = sorted((p.relative_to(data), p.read_bytes()) for p in data.rglob("*") if p.is_file()
                    and p.name != "forge.lock")  # fmt: skip
    result = run(*args, "--data", data)
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    after = sorted((p.relative_to(data), p.read_bytes()) for p in data.rglob("*") if p.is_file()
                   and p.name != "forge.lock")  # fmt: skip
    assert after == before


def test_a_directory_without_a_forge_is_an_error_not_a_new_forge(tmp_path: Path) -> None:
    result = run("repos", "--data", tmp_path / "typo")
    assert result.exit_code == 1
    assert f"error: --data: {tmp_path / 'typo'} holds no forge; create one with" in result.stderr
    assert not (tmp_path / "typo").exists()


def test_push_refuses_links_in_the_directory(data: Path, tmp_path: Path) -> None:
    work = work_dir(tmp_path, {"a.txt": b"a\n"})
    (work / "secret").symlink_to(tmp_path / "seed" / "values.yaml")
    result = run("push", REPO, "b", "--from", work, "--data", data)
    assert result.exit_code == 1
    assert "error: --from: secret is a symbolic link" in result.stderr
    assert "b" not in prplan.LocalForge.open(data).branches(REPO)


def test_push_names_a_file_git_would_refuse(data: Path, tmp_path: Path) -> None:
    work = work_dir(tmp_path, {"back\\slash.txt": b"x\n"})
    result = run("push", REPO, "b", "--from", work, "--data", data)
    assert result.exit_code == 1
    assert "error: --from: path 'back\\\\slash.txt' contains a backslash" in result.stderr
    assert "b" not in prplan.LocalForge.open(data).branches(REPO)


def test_the_forges_refusals_exit_3(data: Path, tmp_path: Path) -> None:
    ok(
        "push",
        REPO,
        "one",
        "--from",
        work_dir(tmp_path, {"values.yaml": b"tag: one\n"}, "one"),
        "--data",
        data,
    )
    ok(
        "push",
        REPO,
        "two",
        "--from",
        work_dir(tmp_path, {"values.yaml": b"tag: two\n"}, "two"),
        "--data",
        data,
    )
    ok("open-pr", REPO, "--head", "one", "--title", "One", "--data", data)
    ok("open-pr", REPO, "--head", "two", "--title", "Two", "--data", data)

    again = run("open-pr", REPO, "--head", "one", "--title", "Again", "--data", data)
    assert (
        again.exit_code == 3 and "refused: acme/app: A pull request already exists" in again.stderr
    )
    ok("push", REPO, "same", "--from", work_dir(tmp_path, {"values.yaml": b"tag: 1\n", "README.md": b"app\n"}, "s"),
       "--data", data)  # fmt: skip
    nothing = run("open-pr", REPO, "--head", "same", "--title", "Nothing", "--data", data)
    assert nothing.exit_code == 3 and "No commits between main and same" in nothing.stderr

    ok("merge-pr", REPO, "1", "--data", data)
    conflict = run("merge-pr", REPO, "2", "--data", data)
    assert conflict.exit_code == 3 and "merge conflict in values.yaml" in conflict.stderr
    assert pr_lines(data, "open")[0][:6] == ["#2", "two", "→", "main", "human", "open"]
    merged_again = run("close-pr", REPO, "1", "--data", data)
    assert merged_again.exit_code == 3 and "is merged" in merged_again.stderr


def test_exit_codes_through_the_installed_command(data: Path) -> None:
    def prplan_forge(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "prplan", "forge", *args, "--data", str(data)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    missing = prplan_forge("open-pr", REPO, "--head", "nope", "--title", "t")
    assert missing.returncode == 1 and "error: --head: no branch 'nope'" in missing.stderr
    usage = prplan_forge("prs", REPO, "--state", "merged")  # click's usage error: 1, not 2
    assert usage.returncode == 1 and "'merged' is not one of" in usage.stderr
    forge = prplan.LocalForge.open(data)
    forge.push(REPO, "x", {"x.txt": "x\n"})
    forge.open_pr(REPO, "x", title="X")
    forge.close()
    assert prplan_forge("merge-pr", REPO, "1").returncode == 0
    refused = prplan_forge("merge-pr", REPO, "1")
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.startswith("refused: pull request #1 cannot be merged")


def test_a_forge_made_before_authors_were_recorded_still_lists_its_pull_requests(
    data: Path,
) -> None:
    forge = prplan.LocalForge.open(data)
    forge.push(REPO, "x", {"x.txt": "x\n"})
    forge.open_pr(REPO, "x", title="Old")
    forge.close()
    with sqlite3.connect(data / "forge.sqlite") as db:  # the schema of the previous release
        db.execute("ALTER TABLE pulls DROP COLUMN author")
        db.execute("ALTER TABLE pulls DROP COLUMN merged_by")
    assert ok("prs", REPO, "--data", data) == "#1  x → main  (unknown)  open  Old\n"
    ok("merge-pr", REPO, "1", "--as", "bob", "--data", data)
    assert prplan.LocalForge.open(data).pull_row(REPO, 1)["merged_by"] == "bob"


# --- forge serve --user ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("users", "message"),
    [
        (["alice"], "error: --user #1: give LOGIN=TOKEN (the value is not shown"),
        (["alice="], "error: --user #1: give LOGIN=TOKEN"),
        (["-x=" + ALICE], "error: --user #1: the login is 1-39 letters"),
        ([f"alice={ALICE}", f"alice={BOB}"], "error: --user alice: is given twice"),
        ([f"alice={ALICE}", f"bob={ALICE}"], "error: --user bob: its token is also alice's"),
        ([f"bob={PRPLAN}"], "error: --user bob: its token is also --token's"),
        (["bob=a b"], "error: --user bob: the token contains a space"),
    ],
)
def test_serve_refuses_bad_users_without_showing_tokens(
    tmp_path: Path, users: list[str], message: str
) -> None:
    args = [a for u in users for a in ("--user", u)]
    result = run("serve", "--data", tmp_path / "f", "--token", PRPLAN, "--port", "0", *args)
    assert result.exit_code == 1
    assert message in result.stderr
    for secret in (ALICE, BOB, PRPLAN):
        assert secret not in result.output


# --- with the same directory served at the same time ----------------------------------------------


@pytest.fixture
def served(forge_server: ForgeServer, data: Path) -> Iterator[ContractCheck]:
    """The directory served with three tokens, as `forge serve --token T
    --user alice=A --user bob=B` does; every answer checked against GitHub's schema."""
    app = ForgeApp(prplan.LocalForge.open(data), token=PRPLAN, users={"alice": ALICE, "bob": BOB})
    check = ContractCheck(app)
    forge_server.serve(check)
    yield check
    app.forge.close()
    assert check.checked > 0 and check.violations == []


def client(server: ForgeServer, token: str) -> prplan.GitHubClient:
    return prplan.GitHubClient(token=token, base_url=server.api_url, retries=0, timeout=10)


def test_commands_on_a_served_directory_are_seen_over_http_and_back(
    forge_server: ForgeServer, served: ContractCheck, data: Path, tmp_path: Path
) -> None:
    alice, bob = client(forge_server, ALICE), client(forge_server, BOB)
    assert alice._http.github.get_user().login == "alice"
    assert client(forge_server, PRPLAN)._http.github.get_user().login == "prplan"

    # A person pushes and opens a pull request on the directory...
    ok(
        "push",
        REPO,
        "human",
        "--from",
        work_dir(tmp_path, {"values.yaml": b"tag: 9\n"}),
        "--data",
        data,
    )
    ok("open-pr", REPO, "--head", "human", "--title", "By hand", "--as", "carol", "--data", data)
    # ...and the server answers with it at once.
    [pull] = alice.pull_requests_from(REPO, "human")
    assert (pull.number, pull.state, pull.title) == (1, "open", "By hand")
    assert pull.head_sha == prplan.LocalForge.open(data).branches(REPO)["human"]
    assert alice._http.github.get_repo(REPO).get_pull(1).user.login == "carol"
    assert alice.read_files(REPO, pull.head_sha, ["values.yaml", "README.md"]) == {
        "values.yaml": b"tag: 9\n", "README.md": None,
    }  # fmt: skip

    # prplan, with alice's token, opens a pull request over HTTP; bob's token merges it.
    request = prplan.ChangeRequest(repo=REPO, branch="prplan/bump", files={"values.yaml": "tag: 2\n"},
                                   title="Bump the tag")  # fmt: skip
    outcome = prplan.apply(prplan.plan(prplan.observe(alice, request), request), alice)
    assert outcome.status is prplan.OutcomeStatus.CREATED
    assert pr_lines(data) == [
        ["#1", "human", "→", "main", "carol", "open", "By", "hand"],
        ["#2", "prplan/bump", "→", "main", "alice", "open", "Bump", "the", "tag"],
    ]
    merge = prplan.ChangeRequest(repo=REPO, branch="prplan/bump", files={"values.yaml": "tag: 2\n"},
                                 title="Bump the tag", automerge=True)  # fmt: skip
    outcome = prplan.apply(prplan.plan(prplan.observe(bob, merge), merge), bob)
    assert outcome.status is prplan.OutcomeStatus.MERGED
    rest = bob._http.github.get_repo(REPO).get_pull(2)
    assert (rest.user.login, rest.merged_by.login) == ("alice", "bob")
    assert pr_lines(data, "closed") == [
        ["#2", "prplan/bump", "→", "main", "alice", "merged", "Bump", "the", "tag"]
    ]
    assert ok("cat", REPO, "main", "values.yaml", "--data", data) == "tag: 2\n"

    # The person merges theirs on the directory: a conflict, refused; closes it instead.
    assert run("merge-pr", REPO, "1", "--data", data).exit_code == 3
    ok("close-pr", REPO, "1", "--data", data)
    assert alice._http.github.get_repo(REPO).get_pull(1).state == "closed"
    log = ok("log", REPO, "main", "--data", data).splitlines()
    assert log[0].split()[0] == alice.branch_sha(REPO, "main")[:7]


def test_a_pull_request_opened_over_http_is_merged_on_the_directory(
    forge_server: ForgeServer, served: ContractCheck, data: Path
) -> None:
    bob = client(forge_server, BOB)
    request = prplan.ChangeRequest(
        repo=REPO, branch="prplan/x", files={"x.txt": "x\n"}, title="Add x"
    )
    prplan.apply(prplan.plan(prplan.observe(bob, request), request), bob)
    assert ok("prs", REPO, "--data", data) == "#1  prplan/x → main  bob  open  Add x\n"

    ok("merge-pr", REPO, "1", "--as", "alice", "--data", data)
    [pull] = bob.pull_requests_from(REPO, "prplan/x")
    assert pull.merged and pull.merge_sha == bob.branch_sha(REPO, "main")
    assert bob._http.github.get_repo(REPO).get_pull(1).merged_by.login == "alice"
    assert bob.read_files(REPO, pull.merge_sha, ["x.txt"]) == {"x.txt": b"x\n"}
    # prplan sees its change delivered: nothing left to do.
    assert prplan.plan(prplan.observe(bob, request), request).is_empty


def test_serve_with_users_records_authors_in_a_real_process(data: Path) -> None:
    """`prplan forge serve --user` in its own process, the commands in others."""
    env = {**os.environ, "PRPLAN_FORGE_USERS": f"alice={ALICE} bob={BOB}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "prplan", "forge", "serve", "--data", str(data), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        api = server.stdout.readline().strip().rsplit(" ", 1)[1]
        alice = prplan.GitHubClient(token=ALICE, base_url=api, retries=0, timeout=10)
        request = prplan.ChangeRequest(
            repo=REPO, branch="prplan/y", files={"y.txt": "y\n"}, title="Add y"
        )
        prplan.apply(prplan.plan(prplan.observe(alice, request), request), alice)

        def prplan_forge(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "prplan", "forge", *args, "--data", str(data)],
                                  capture_output=True, text=True, timeout=60)  # fmt: skip

        listed = prplan_forge("prs", REPO)
        assert (
            listed.returncode == 0 and listed.stdout == "#1  prplan/y → main  alice  open  Add y\n"
        )
        assert prplan_forge("merge-pr", REPO, "1", "--as", "bob").returncode == 0
        [pull] = alice.pull_requests_from(REPO, "prplan/y")
        assert pull.merged
        with pytest.raises(prplan.ForgeError) as unknown:
            prplan.observe(prplan.GitHubClient(token="nobody", base_url=api, retries=0), request)
        assert unknown.value.status == 401
    finally:
        server.terminate()
        out, err = server.communicate(timeout=10)
    for secret in (ALICE, BOB):
        assert secret not in out + err
