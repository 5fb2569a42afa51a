"""Hostile and broken input, from the catalogue in ``bad_inputs.py``.

Command cases run against a fresh forge: the local forge served over HTTP
(as GitHub), or a forge directory (``--local``). Each must exit with its
code, say what is wrong on one line, print no traceback and no token, and
write nothing: the served forge counts no write request, and its branches
and pull requests are as they were. API cases must raise their exception,
naming the field.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.forges.local.server.app import ForgeServer

from bad_inputs import (
    API,
    BRANCH,
    CATALOGUE,
    FORGE,
    NEW_VALUES,
    REPO,
    RUNNER,
    SEED,
    SUBPROCESS,
    Case,
    PlanDoc,
    Sparse,
)
from served import TOKEN, Served, fixed_clock


def _params(*vias: str) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else [],
        )
        for case in CATALOGUE
        if case.via in vias
    ]


def test_the_catalogue_has_at_least_40_cases_with_unique_ids() -> None:
    ids = [case.id for case in CATALOGUE]
    assert len(ids) >= 40
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for case in CATALOGUE:
        assert case.says, case.id
        if case.via == API:
            assert case.call is not None and case.raises is not None and not case.args, case.id
        else:
            assert case.via in (SUBPROCESS, RUNNER), case.id
            assert case.args and case.code not in (None, 0) and case.call is None, case.id
    vias = {case.via for case in CATALOGUE}
    assert vias == {SUBPROCESS, RUNNER, API}


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_plan() -> str:
    """A saved plan of a valid change to REPO, for the cases to break."""
    forge = _seeded()
    request = prplan.ChangeRequest(
        repo=REPO, branch=BRANCH, files={"apps/app/values.yaml": NEW_VALUES}
    )
    the_plan = prplan.plan(prplan.observe(forge, request), request)
    assert the_plan.actions and the_plan.refusal is None
    return the_plan.to_json()


def _seeded(directory: Path | None = None) -> prplan.LocalForge:
    forge = (
        prplan.LocalForge.in_memory(clock=fixed_clock)
        if directory is None
        else prplan.LocalForge.open(directory, clock=fixed_clock)
    )
    forge.create_repo(REPO, dict(SEED))
    return forge


def _state(forge: prplan.LocalForge) -> tuple[object, object]:
    return forge.branches(REPO), forge.pull_requests(REPO)


def _materialise(value: object, valid_plan: str) -> object:
    if isinstance(value, PlanDoc):
        return value.render(valid_plan)
    return value


def _write(path: Path, content: object, valid_plan: str) -> None:
    content = _materialise(content, valid_plan)
    if isinstance(content, Sparse):
        with path.open("wb") as file:
            file.truncate(content.size)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        assert isinstance(content, str)
        path.write_bytes(content.encode())


# --- the command ----------------------------------------------------------------------


def _run(case: Case, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    if case.via == SUBPROCESS:
        done = subprocess.run(
            [sys.executable, "-m", "prplan", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=120,
        )
        return done.returncode, done.stdout, done.stderr
    result = CliRunner().invoke(cli, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        pytest.fail(
            "the command crashed:\n" + "".join(traceback.format_exception(*result.exc_info))
        )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case", _params(SUBPROCESS, RUNNER))
def test_the_command_refuses_bad_input_and_writes_nothing(
    case: Case, tmp_path: Path, forge_server: ForgeServer, valid_plan: str
) -> None:
    tmp = tmp_path / "work"
    tmp.mkdir()
    (tmp / "new.yaml").write_text(NEW_VALUES)
    for name, content in case.files.items():
        _write(tmp / name, content, valid_plan)
    forge_dir = tmp_path / "forge"
    local = any("{forge}" in arg for arg in case.args)
    if local:
        seeded = _seeded(forge_dir)
        local_before = _state(seeded)
        seeded.close()
    forge = _seeded()
    served = Served(forge_server, forge)
    before = _state(forge)
    args = [arg.replace("{tmp}", str(tmp)).replace("{forge}", str(forge_dir)) for arg in case.args]
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": forge_server.api_url,
        "NO_COLOR": "1",
        **case.env,
    }

    code, out, err = _run(case, args, env)

    text = out + err
    assert "Traceback" not in text, text
    assert code == case.code, text
    says = case.says.replace("{tmp}", str(tmp))
    assert any(says in line for line in text.splitlines()), f"{says!r} not on a line of:\n{text}"
    for token in {TOKEN, env["GITHUB_TOKEN"]}:
        assert token not in text, "a token was printed"
    if code == 1 and not err.startswith("Usage:"):
        # invalid input: one problem a line, each naming what is wrong, on stderr
        lines = err.strip().splitlines()
        assert lines and all(line.startswith("error: ") for line in lines), err
        assert out == "", out
    assert served.app.log.writes == 0, served.app.log.entries
    assert _state(forge) == before
    if local:
        after = prplan.LocalForge.open(forge_dir, clock=fixed_clock)
        try:
            assert _state(after) == local_before
        finally:
            after.close()


def test_the_harness_sees_a_write_when_there_is_one(
    tmp_path: Path, forge_server: ForgeServer
) -> None:
    """The control: a valid change, given the way the cases give theirs, writes."""
    (tmp_path / "new.yaml").write_text(NEW_VALUES)
    forge = _seeded()
    served = Served(forge_server, forge)
    before = _state(forge)
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": forge_server.api_url, "NO_COLOR": "1"}
    args = ["apply", "--yes", "--repo", REPO, "--branch", BRANCH,
            "--file", f"apps/app/values.yaml={tmp_path / 'new.yaml'}"]  # fmt: skip
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert served.app.log.writes > 0 and _state(forge) != before


# --- the Python API ---------------------------------------------------------------------


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


@pytest.mark.parametrize("case", _params(API))
def test_the_api_raises_naming_the_field(case: Case, valid_plan: str) -> None:
    assert case.call is not None and case.raises is not None
    forge = _seeded()
    before = _state(forge)

    def arg(value: object) -> object:
        return forge if value is FORGE else _materialise(value, valid_plan)

    func = _resolve(case.call.func)
    args = [arg(value) for value in case.call.args]
    kwargs = {key: arg(value) for key, value in case.call.kwargs.items()}
    with pytest.raises(case.raises) as info:
        func(*args, **kwargs)
    error = info.value
    assert case.says in str(error), str(error)
    if isinstance(error, prplan.InvalidRequestError):
        assert error.problems
        assert all(isinstance(p, prplan.Problem) for p in error.problems)
        assert any(p.field == case.field and case.says in p.message for p in error.problems), (
            error.problems
        )
    else:
        assert case.field is None, "only InvalidRequestError carries problems"
    if isinstance(error, prplan.RefusedError):
        assert error.refusal is not None
    assert _state(forge) == before
