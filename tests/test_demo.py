"""The README's first command: ``prplan demo`` runs the main job end to end."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from prplan.cli import cli


def test_demo_runs_and_converges() -> None:
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "prplan apply acme/deployments: merged" in out
    assert 'main now says: tag: "1.4.2"' in out
    assert "Nothing to do." in out
    assert "prplan apply acme/deployments: updated" in out  # the open PR is reused
    # a protected main: the release waits for the stand-in CI's check and
    # GitHub's auto-merge (the forge's) merges it
    assert "prplan apply acme/deployments: auto_merge_enabled" in out
    assert "pull request #3 merged by auto-merge" in out
    assert 'main now says: tag: "1.4.3"' in out
    assert "Every re-plan is empty: converged." in out


def test_python_dash_m_prplan_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "prplan", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "demo" in done.stdout and "states" in done.stdout


def test_states_command_prints_the_generated_table_and_diagram() -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["states", "--format", "markdown"])
    diagram = runner.invoke(cli, ["states", "--format", "mermaid"])
    assert table.exit_code == 0 and "# prplan decision table" in table.output
    assert diagram.exit_code == 0 and "stateDiagram-v2" in diagram.output
