"""Routes for a branch's protection and the rules that apply to it.

GitHub's ``GET branches/{branch}/protection`` (the classic protection: 404
"Branch not protected" where there is none) and ``GET rules/branches/{branch}``
(the rules of the rulesets that apply to the branch). GitHub lists only
rulesets' rules there, never a classic protection; the local forge has
classic protection only and no rulesets, so its answer is always ``[]``.
GitHub asks for admin rights to read a protection; this forge answers any
authorised request.
"""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Request

from prplan.forges.local.gates import Protection
from prplan.forges.local.server.payloads import JSON, Urls
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
        self._target(owner, name)  # 404 for a repository that is not there
        # GitHub lists only rulesets' rules here (classic protection is read
        # from branches/{b}/protection); this forge has no rulesets.
        return 200, [], None
