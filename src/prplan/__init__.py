"""prplan: change files in Git repositories through pull requests, by plan.

    snapshot = prplan.observe(forge, request)   # read-only
    p = prplan.plan(snapshot, request)          # pure: no I/O
    outcome = prplan.apply(p, forge)            # exactly that plan, or nothing

See docs/ for the states, the rules and the API.
"""

from typing import TYPE_CHECKING, Any

from prplan.core.actions import (
    Action,
    Commit,
    CreateBranch,
    CreatePullRequest,
    DeleteBranch,
    DisarmMerge,
    EnableAutoMerge,
    Enqueue,
    FileChange,
    MergePullRequest,
    Refusal,
    ResetBranch,
)
from prplan.core.plan import Plan
from prplan.core.planner import plan
from prplan.core.request import BranchPolicy, ChangeRequest, MergeMethod, MergeWhen, OnClosed
from prplan.core.snapshot import (
    CommitInfo,
    Gate,
    MergeArmed,
    PullRequestInfo,
    RepoSnapshot,
    git_blob_sha,
)
from prplan.core.states import ActionKind, ArmedBy, BranchSituation, PRState, RefusalCode, Stage
from prplan.edits import EditError, JsonDelete, JsonSet, Replace, YamlDelete, YamlSet
from prplan.errors import (
    ApplyFailedError,
    ConflictError,
    ForgeError,
    InvalidRequestError,
    MergeableNow,
    MergeBlocked,
    NotFoundError,
    PlanFormatError,
    PlanIntegrityError,
    Problem,
    PrplanError,
    RefusedError,
    RepositoryDisagreesError,
    StalePlanError,
)
from prplan.run.changeset import (
    ChangeSetPlan,
    ChangeSetResult,
    EntryResult,
    apply_changeset,
    plan_changeset,
)
from prplan.run.changeset_file import ChangeSet, ChangeSetStage, Goal, load_changeset
from prplan.run.executor import apply
from prplan.run.observe import observe
from prplan.run.outcome import ActionResult, ActionStatus, Outcome, OutcomeStatus, Reporter
from prplan.run.port import Comparison, ForgeClient, RequestCount, counting_requests

if TYPE_CHECKING:
    from prplan.forges.github import GitHubClient
    from prplan.forges.local import LocalForge

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The forges load on first use: ``prplan.LocalForge`` brings dulwich and
    SQLite, ``prplan.GitHubClient`` PyGithub, and a command needs only one."""
    if name == "GitHubClient":
        from prplan.forges.github import GitHubClient

        return GitHubClient
    if name == "LocalForge":
        from prplan.forges.local import LocalForge

        return LocalForge
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "GitHubClient", "LocalForge"})


__all__ = [
    # the three steps
    "observe",
    "plan",
    "apply",
    # requests and observations
    "ChangeRequest",
    "MergeMethod",
    "MergeWhen",
    "OnClosed",
    "BranchPolicy",
    "RepoSnapshot",
    "PullRequestInfo",
    "Gate",
    "MergeArmed",
    "CommitInfo",
    "git_blob_sha",
    # structured edits (values of ChangeRequest.files)
    "YamlSet",
    "YamlDelete",
    "JsonSet",
    "JsonDelete",
    "Replace",
    # change sets: many repositories, one plan
    "ChangeSet",
    "ChangeSetStage",
    "Goal",
    "load_changeset",
    "plan_changeset",
    "ChangeSetPlan",
    "apply_changeset",
    "ChangeSetResult",
    "EntryResult",
    # states
    "PRState",
    "BranchSituation",
    "Stage",
    "ActionKind",
    "ArmedBy",
    "RefusalCode",
    # plans
    "Plan",
    "Action",
    "CreateBranch",
    "ResetBranch",
    "Commit",
    "FileChange",
    "CreatePullRequest",
    "MergePullRequest",
    "EnableAutoMerge",
    "DisarmMerge",
    "Enqueue",
    "DeleteBranch",
    "Refusal",
    # outcomes
    "Outcome",
    "OutcomeStatus",
    "ActionResult",
    "ActionStatus",
    "Reporter",
    # forges
    "ForgeClient",
    "Comparison",
    "RequestCount",
    "counting_requests",
    "LocalForge",
    "GitHubClient",
    # errors
    "PrplanError",
    "Problem",
    "InvalidRequestError",
    "PlanFormatError",
    "PlanIntegrityError",
    "RepositoryDisagreesError",
    "RefusedError",
    "StalePlanError",
    "ConflictError",
    "MergeBlocked",
    "MergeableNow",
    "EditError",
    "ApplyFailedError",
    "ForgeError",
    "NotFoundError",
]
