"""The ``prplan`` command: plan files for review, apply exactly what was
reviewed, keep an audit trail.

Exit codes (also in ``--help``):

* ``prplan plan``: 0 nothing to do, 2 changes planned, 3 refused, 1 error.
* ``prplan apply``: 0 applied or nothing to do, 3 refused, 4 stale plan
  (nothing written), 5 failed part-way (the outcome says what was done),
  1 error.

Invalid input exits 1 with one line per problem, naming the option and the
fix, before anything is read from or written to a forge. The token comes
from ``GITHUB_TOKEN`` or ``GH_TOKEN`` only, never from a flag, and is never
printed.

The group and its entry point only: each command lives in its own module
(``plan_cmd``, ``apply_cmd``, ``show_cmd``, ``table_cmd``, ``demo``,
``forge_cmd``), what they share in ``options``, ``change`` and ``output``.
"""

from __future__ import annotations

import sys

import click

from prplan.cli.apply_cmd import apply
from prplan.cli.demo import demo
from prplan.cli.forge_cmd import forge
from prplan.cli.options import EXIT
from prplan.cli.plan_cmd import plan
from prplan.cli.show_cmd import show
from prplan.cli.table_cmd import states
from prplan.errors import InvalidRequestError, PrplanError, mask_url_credentials

__all__ = ["main", "cli", "EXIT"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="prplan")
def cli() -> None:
    """Change files in Git repositories through pull requests, by plan.

    `prplan plan` shows what would happen and why; `prplan apply` does exactly
    that (or refuses a plan the repository has moved away from)."""


for _command in (plan, apply, show, demo, states, forge):
    cli.add_command(_command)


def main() -> None:
    """Entry point: click's own usage errors exit 2, which `prplan plan` uses
    for "changes planned"; here every usage error exits 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        # A usage error is invalid input (1); others carry their own code
        # (a forge command's refusal is 3).
        sys.exit(EXIT["error"] if isinstance(error, click.UsageError) else error.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT["error"])
    except InvalidRequestError as error:
        for problem in error.problems:
            click.echo(f"error: {problem.field}: {problem.message}", err=True)
        sys.exit(EXIT["error"])
    except PrplanError as error:
        # Whatever raised it, a URL's user-info (a password, a token) is not shown.
        click.echo(f"error: {mask_url_credentials(str(error))}", err=True)
        sys.exit(EXIT["error"])
