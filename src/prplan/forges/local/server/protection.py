"""Routes for a branch's protection and the rules that apply to it.

GitHub's ``GET branches/{branch}/protection`` (the classic protection: 404
"Branch not protected" where there is none) and ``GET rules/branches/{branch}``
(every rule that applies to the branch, as ``repository-rule-detailed``
objects: ``required_status_checks``, ``pull_request``, ``merge_queue``, plus
``deletion`` and ``non_fast_forward``, which every protected branch has on
this forge). The local forge has one protection per branch and no rulesets,
so the rules are that protection told as rules, from one ruleset named after
the branch (``ruleset_source_type`` ``Repository``). GitHub asks for admin
rights to read a protection; this forge answers any authorised request.
"""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Request

from prplan.forges.local.gates import Protection
from prplan.forges.local.server.payloads import JSON, Urls, numeric_id
from prplan.forges.local.server.routes import Answer, Fail, Routes

__all__ = ["ProtectionRoutes"]


def _enabled(on: bool) -> JSON:
    return {"enabled": on}


def protection_json(urls: Urls, repo: str, branch: str, rule: Protection) -> JSON:
    """A protection as GitHub's ``branch-protection`` object."""
    url = f"{urls.api}/repos/{repo}/branches/{quote(branch, safe='')}/protection"
    out: JSON = {
        "url": url,
        "enabled": True,
        "name": branch,
        "protection_url": url,
        "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": rule.enforce_admins},
        "required_linear_history": _enabled(False),
        "allow_force_pushes": _enabled(False),
        "allow_deletions": _enabled(False),
        "block_creations": _enabled(False),
        "required_conversation_resolution": _enabled(False),
        "lock_branch": _enabled(False),
        "allow_fork_syncing": _enabled(False),
        "required_signatures": {"url": f"{url}/required_signatures", "enabled": False},
    }
    if rule.required_checks or rule.strict:
        out["required_status_checks"] = {
            "url": f"{url}/required_status_checks",
            "enforcement_level": "everyone" if rule.enforce_admins else "non_admins",
            "contexts": list(rule.required_checks),
            "checks": [{"context": name, "app_id": None} for name in rule.required_checks],
            "contexts_url": f"{url}/required_status_checks/contexts",
            "strict": rule.strict,
        }
    if rule.required_approvals:
        out["required_pull_request_reviews"] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": False,
            "require_code_owner_reviews": False,
            "required_approving_review_count": rule.required_approvals,
            "require_last_push_approval": False,
        }
    return out


def rules_json(repo: str, branch: str, rule: Protection) -> list[JSON]:
    """The rules that apply to a protected branch, as GitHub lists them."""
    source: JSON = {
        "ruleset_source_type": "Repository",
        "ruleset_source": repo,
        "ruleset_id": numeric_id("ruleset", repo, branch) % 2**31,
    }
    rules: list[JSON] = [{"type": "deletion"}, {"type": "non_fast_forward"}]
    if rule.required_checks:
        rules.append({
            "type": "required_status_checks",
            "parameters": {
                "required_status_checks": [{"context": c} for c in rule.required_checks],
                "strict_required_status_checks_policy": rule.strict,
            },
        })  # fmt: skip
    if rule.required_approvals:
        rules.append({
            "type": "pull_request",
            "parameters": {
                "dismiss_stale_reviews_on_push": False, "require_code_owner_review": False,
                "require_last_push_approval": False, "required_review_thread_resolution": False,
                "required_approving_review_count": rule.required_approvals,
            },
        })  # fmt: skip
    if rule.merge_queue:
        rules.append({
            "type": "merge_queue",
            "parameters": {
                "check_response_timeout_minutes": 60, "grouping_strategy": "ALLGREEN",
                "max_entries_to_build": 5, "max_entries_to_merge": 5, "merge_method": "MERGE",
                "min_entries_to_merge": 1, "min_entries_to_merge_wait_minutes": 5,
            },
        })  # fmt: skip
    return [{**found, **source} for found in rules]


class ProtectionRoutes(Routes):
    """A branch's protection, and the rules applying to it."""

    def _h_branch_protection(
        self, request: Request, urls: Urls, owner: str, name: str, branch: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        if branch not in self.forge.branches(repo):
            raise Fail(404, "Branch not found")
        rule = self.forge.branch_protection(repo, branch)
        if rule is None:
            raise Fail(404, "Branch not protected")
        return 200, protection_json(urls, repo, branch, rule), None

    def _h_branch_rules(
        self, request: Request, urls: Urls, owner: str, name: str, branch: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        rule = self.forge.branch_protection(repo, branch)  # a branch yet to exist has rules too
        return 200, [] if rule is None else rules_json(repo, branch, rule), None
