"""Structured edits through observe -> plan -> apply, directly, over HTTP
and from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.edits import JsonSet, Replace, YamlSet
from prplan.forges.local.server.app import ForgeServer

from served import Served

REPO = "acme/app"
VALUES = "# chart values\nimage:\n  repository: registry.example.com/acme/app\n  tag: '1.4.1'  # bumped by CI\nreplicas: 2\n"
PACKAGE = '{\n  "name": "app",\n  "version": "1.4.1",\n  "private": true\n}\n'


def _forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": VALUES, "package.json": PACKAGE})
    return forge


def _plan(client: prplan.ForgeClient, request: prplan.ChangeRequest) -> prplan.Plan:
    return prplan.plan(prplan.observe(client, request), request)


def _request(edits: object, **flags: object) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=REPO, branch="prplan/bump", files={"values.yaml": edits}, **flags
    )  # type: ignore[arg-type]


def test_a_yaml_edit_changes_one_line_and_converges() -> None:
    forge = _forge()
    request = _request(YamlSet(path="image.tag", value="1.4.2"), automerge=True)
    plan = _plan(forge, request)
    assert plan.rule == "absent_merge"
    assert plan.content("values.yaml") == VALUES.replace("'1.4.1'", "'1.4.2'").encode()
    assert prplan.Plan.from_json(plan.to_json()) == plan
    assert prplan.apply(plan, forge).status is prplan.OutcomeStatus.MERGED
    assert (
        forge.read_file(REPO, "main", "values.yaml")
        == VALUES.replace("'1.4.1'", "'1.4.2'").encode()
    )
    assert _plan(forge, request).is_empty


def test_an_edit_that_changes_nothing_is_already_in_place() -> None:
    plan = _plan(_forge(), _request(YamlSet(path="replicas", value=2)))
    assert plan.is_empty and plan.rule == "in_place"


def test_edits_apply_to_the_open_pull_requests_branch() -> None:
    forge = _forge()
    prplan.apply(
        _plan(forge, _request(YamlSet(path="image.tag", value="1.4.2"))), forge
    )  # a PR, for review
    second = _request((YamlSet(path="replicas", value=3),))
    plan = _plan(forge, second)
    assert plan.rule == "open_update"
    prplan.apply(plan, forge)
    on_branch = forge.read_file(REPO, "prplan/bump", "values.yaml")
    assert (
        on_branch
        == VALUES.replace("'1.4.1'", "'1.4.2'").replace("replicas: 2", "replicas: 3").encode()
    )


def test_a_failing_edit_is_refused_naming_file_and_key_and_writes_nothing() -> None:
    forge = _forge()
    before = forge.branches(REPO)
    plan = _plan(forge, _request(YamlSet(path="replicas.count", value=3)))
    assert plan.refusal is not None and plan.refusal.code is prplan.RefusalCode.EDIT_FAILED
    assert plan.refusal.paths == ("values.yaml",)
    assert "'replicas' is an integer, not a mapping" in plan.refusal.message
    assert prplan.apply(plan, forge).status is prplan.OutcomeStatus.REFUSED
    assert forge.branches(REPO) == before


def test_edits_of_a_missing_file_and_a_miscounted_replace_are_refused() -> None:
    forge = _forge()
    missing = prplan.ChangeRequest(
        repo=REPO, branch="b", files={"nope.yaml": YamlSet(path="a", value=1)}
    )
    assert _plan(forge, missing).refusal.code is prplan.RefusalCode.EDIT_FAILED  # type: ignore[union-attr]
    twice = _request(Replace(old="e", new="E"))
    refusal = _plan(forge, twice).refusal
    assert refusal is not None and "expected 1 match" in refusal.message


def test_json_and_replace_edits_in_one_request() -> None:
    forge = _forge()
    request = prplan.ChangeRequest(
        repo=REPO, branch="b", automerge=True,
        files={"package.json": JsonSet(path="version", value="1.4.2"), "values.yaml": Replace(old="replicas: 2", new="replicas: 4")},
    )  # fmt: skip
    prplan.apply(_plan(forge, request), forge)
    assert (
        forge.read_file(REPO, "main", "package.json") == PACKAGE.replace("1.4.1", "1.4.2").encode()
    )
    assert (
        forge.read_file(REPO, "main", "values.yaml")
        == VALUES.replace("replicas: 2", "replicas: 4").encode()
    )


@pytest.mark.parametrize("transport", ["graphql", "rest"])
def test_edits_over_http_read_the_file_once_and_classify_it_from_the_tree(
    transport: str, forge_server: ForgeServer
) -> None:
    """REST: one tree listing says the edited path is a file (not a directory
    or a submodule); only then is its content read, once. GraphQL: the one
    observe query reads the directory listing and the text together."""
    served = Served(forge_server, _forge())
    served.client = served.new_client(transport=transport, retries=3, backoff=0.0, timeout=5)
    request = _request(YamlSet(path="image.tag", value="1.4.2"), automerge=True)
    plan = _plan(served.client, request)
    paths = [path for _, path, _ in served.app.log.entries]
    if transport == "rest":
        assert sum("/git/trees/" in path for path in paths) == 1
        assert sum("/contents/values.yaml" in p for p in paths) == 1
        assert served.app.log.reads == 6 + 1  # + GET /user: the plan's identity, once per client
    else:
        assert paths == ["/api/graphql"] and served.app.log.reads == 1
    direct = _plan(served.forge, request)  # the same forge, called directly
    assert (plan.rule, plan.resolved, plan.actions) == (
        direct.rule,
        direct.resolved,
        direct.actions,
    )
    prplan.apply(plan, served.client, recheck=False)
    assert (
        served.forge.read_file(REPO, "main", "values.yaml")
        == VALUES.replace("'1.4.1'", "'1.4.2'").encode()
    )
    assert _plan(served.client, request).is_empty
    assert served.violations == []


# --- the command -----------------------------------------------------------------------------


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"values.yaml": VALUES, "package.json": PACKAGE})
    forge.close()
    return tmp_path / "forge"


def test_set_and_replace_from_the_command_line(forge_dir: Path) -> None:
    result = CliRunner().invoke(cli, [
        "apply", "--repo", REPO, "--local", str(forge_dir), "--branch", "b", "--automerge", "--yes",
        "--set", "values.yaml:image.tag=1.4.2", "--set", "values.yaml:replicas=3",
        "--set", "package.json:version=1.4.2", "--replace", "values.yaml", "# bumped by CI", "# bumped by prplan",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    forge = prplan.LocalForge.open(forge_dir)
    expected = (
        VALUES.replace("'1.4.1'", "'1.4.2'")
        .replace("replicas: 2", "replicas: 3")
        .replace("CI", "prplan")
    )
    assert forge.read_file(REPO, "main", "values.yaml") == expected.encode()
    assert (
        forge.read_file(REPO, "main", "package.json") == PACKAGE.replace("1.4.1", "1.4.2").encode()
    )


def _cli_plan(forge_dir: Path, *options: str) -> prplan.Plan:
    result = CliRunner().invoke(cli, [
        "plan", "--repo", REPO, "--local", str(forge_dir), "--branch", "b", "--format", "json", *options,
    ])  # fmt: skip
    assert result.exit_code == 2, result.output
    return prplan.Plan.from_json(result.output)


def test_set_values_are_kept_as_written_and_typed_by_the_file(forge_dir: Path) -> None:
    """The deployment team's bug: tag 1.10 must not ship as 1.1."""
    plan = _cli_plan(
        forge_dir,
        "--set", "values.yaml:image.tag=1.10", "--set", "values.yaml:replicas=3",
        "--set", "values.yaml:new=010",
    )  # fmt: skip
    edits = plan.request.files["values.yaml"]
    assert isinstance(edits, tuple) and [(e.value, e.as_written) for e in edits] == [
        ("1.10", True),
        ("3", True),
        ("010", True),
    ]
    assert (
        plan.content("values.yaml")
        == (
            VALUES.replace("'1.4.1'", "'1.10'").replace("replicas: 2", "replicas: 3")
            + "new: '010'\n"
        ).encode()
    )
    assert "values.yaml: adds key new" in plan.notes
    assert any("new: 010 is written as the string" in note for note in plan.notes)
    assert prplan.Plan.from_json(plan.to_json()) == plan


@pytest.mark.parametrize(
    ("options", "written"),
    [
        (["--set", "values.yaml:replicas=1.10"], "replicas: 1.10"),  # a number stays a number
        (["--set", "values.yaml:replicas=0x10"], "replicas: 0x10"),
        (["--set-string", "values.yaml:replicas=3"], "replicas: '3'"),
        (["--set-json", "values.yaml:replicas=1e3"], "replicas: 1000.0"),
        (["--set-json", 'values.yaml:replicas={"min": 1}'], "replicas:\n  min: 1"),
        (["--set", "values.yaml:replicas=many"], "replicas: many"),
        (["--set", "values.yaml:replicas=no"], "replicas: 'no'"),  # false to Helm unquoted
    ],
)
def test_explicit_types_beat_the_files_type(
    forge_dir: Path, options: list[str], written: str
) -> None:
    plan = _cli_plan(forge_dir, *options)
    assert plan.content("values.yaml") == VALUES.replace("replicas: 2", written).encode()


def test_a_set_on_a_json_file_keeps_json_whatever_its_name(tmp_path: Path) -> None:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    babelrc = '{\n  "presets": ["env"],\n  "only": true\n}\n'
    forge.create_repo(REPO, {".babelrc": babelrc, "X.JSON": '{"a": 1.50}'})
    forge.close()
    plan = _cli_plan(
        tmp_path / "forge", "--set", ".babelrc:c=x", "--set", "X.JSON:b=1E-7", "--set", "X.JSON:a=2"
    )
    assert plan.content(".babelrc") == babelrc.replace("true\n", 'true,\n  "c": "x"\n').encode()
    assert plan.content("X.JSON") == b'{"a": 2, "b": "1E-7"}'
    assert plan.request.files["X.JSON"][0].__class__ is JsonSet  # type: ignore[index]


def test_set_selects_a_list_item_by_a_keys_value(tmp_path: Path) -> None:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    deployment = "env:\n  - name: MODE\n    value: a\n  - name: LOG_LEVEL\n    value: info\n"
    forge.create_repo(REPO, {"d.yaml": deployment})
    forge.close()
    plan = _cli_plan(tmp_path / "forge", "--set", "d.yaml:env[name=LOG_LEVEL].value=debug")
    assert plan.content("d.yaml") == deployment.replace("info", "debug").encode()
    assert "d.yaml: env[name=LOG_LEVEL] is item env[1]" in plan.notes


def test_replace_takes_three_arguments_so_any_text_can_be_said(forge_dir: Path) -> None:
    plan = _cli_plan(forge_dir, "--replace", "values.yaml", "replicas: 2", "replicas=2=x:y")
    assert plan.content("values.yaml") == VALUES.replace("replicas: 2", "replicas=2=x:y").encode()


def test_a_replace_matching_nothing_is_refused(forge_dir: Path) -> None:
    result = CliRunner().invoke(cli, [
        "plan", "--repo", REPO, "--local", str(forge_dir), "--branch", "b",
        "--replace", "values.yaml", "VERSION=1.4.1", "VERSION=1.4.2",
    ])  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "edit_failed" in result.output and "expected 1 match, found 0" in result.output


def test_bad_set_and_replace_syntax_is_named(forge_dir: Path) -> None:
    result = CliRunner().invoke(cli, [
        "plan", "--repo", REPO, "--local", str(forge_dir), "--branch", "b",
        "--set", "values.yaml-image.tag", "--set-json", "values.yaml:a=[1,", "--set-string", "v.yaml:a",
        "--replace", "values.yaml:a=b", "--delete", "x",
    ])  # fmt: skip
    assert result.exit_code == 1
    assert "error: --set: 'values.yaml-image.tag' is not REPO_PATH:KEY.PATH=VALUE" in result.output
    assert "error: --set-json: values.yaml:a=[1,: the value is not JSON" in result.output
    assert "error: --set-string: 'v.yaml:a' is not REPO_PATH:KEY.PATH=VALUE" in result.output
    assert "error: --replace: takes three arguments, REPO_PATH OLD NEW" in result.output
