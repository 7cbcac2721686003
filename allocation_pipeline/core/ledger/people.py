"""People and what they may do: roles, permissions and the four-eyes rule (no store, no web).

The console, the CLI and any other front end (an MCP server) ask `allowed(role, action)` before
acting, and the ledger functions themselves call `check_four_eyes`, so no front end can skip it.
"""

from __future__ import annotations

import re

from allocation_pipeline.core.ledger.lifecycle import LifecycleError

# Each role may do what the roles before it may do, plus its own actions; the four-eyes rule,
# not the role, keeps an approver from approving what they submitted themselves.
ROLES = ("viewer", "preparer", "approver", "admin")
_OWN_ACTIONS = {
    "viewer": {"view"},
    "preparer": {"submit", "preview", "decide_suggestions"},  # accept or reject a suggested cost center
    "approver": {"approve", "reject", "post", "void"},
    "admin": {"manage_users"},
}
ACTIONS_OF_ROLE: dict[str, frozenset[str]] = {
    role: frozenset().union(*(_OWN_ACTIONS[r] for r in ROLES[: i + 1])) for i, role in enumerate(ROLES)
}
ACTIONS = frozenset().union(*ACTIONS_OF_ROLE.values())

# Actors that are not people: the pipeline itself and rule policies. They never count as the
# preparer who must not approve, and a person cannot take their names.
PIPELINE_ACTOR = "pipeline"
POLICY_ACTOR = "policy:auto"
SYSTEM_ACTORS = frozenset({PIPELINE_ACTOR, POLICY_ACTOR})

# Four-eyes applies to these actions: the preparer of a run cannot take them.
FOUR_EYES_ACTIONS = ("approve", "post")

USER_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}"


class PermissionDenied(PermissionError):
    """A person whose role does not allow the action; the message names both."""


class FourEyesError(LifecycleError):
    """The person who prepared a run tried to approve or post it; the message names the run and the person."""


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role '{role}' is not one of {', '.join(ROLES)}")
    return role


def check_user_name(name: str) -> str:
    """A person's name: letters, digits and . _ @ -, not a system actor's name."""
    if not re.fullmatch(USER_NAME_PATTERN, name or ""):
        raise ValueError(f"user name '{name}' must be 1-64 letters, digits or . _ @ - (starting with a letter or digit)")
    if is_system_actor(name):
        raise ValueError(f"user name '{name}' is reserved for the pipeline")
    return name


def is_system_actor(name: str | None) -> bool:
    return name is not None and (name.lower() in SYSTEM_ACTORS or name.lower().startswith("policy:"))


def allowed(role: str | None, action: str) -> bool:
    """Whether `role` may take `action` (one of ACTIONS)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action '{action}'")
    return action in ACTIONS_OF_ROLE.get(role or "", frozenset())


def require(user_name: str, role: str | None, action: str) -> None:
    """Refuse with PermissionDenied unless `role` may take `action`."""
    if not allowed(role, action):
        holders = [r for r in ROLES if action in ACTIONS_OF_ROLE[r]]
        raise PermissionDenied(f"{user_name} ({role or 'no role'}) may not {action.replace('_', ' ')}; that takes the role {' or '.join(holders)}")


def check_four_eyes(run_id: str, preparer: str | None, actor: str, action: str) -> None:
    """Refuse when the person who prepared `run_id` would approve or post it.

    The pipeline and rule policies act by policy, never as a second pair of eyes, so they are
    neither refused nor counted as the preparer; names compare case-insensitively.
    """
    if action not in FOUR_EYES_ACTIONS or not preparer or is_system_actor(actor) or is_system_actor(preparer):
        return
    if preparer.strip().casefold() == actor.strip().casefold():
        raise FourEyesError(
            f"{run_id}: {actor} prepared this run and cannot {action} it too (four-eyes rule); another approver must {action} it"
        )
