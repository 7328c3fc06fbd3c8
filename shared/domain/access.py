"""Workspaces: who may change, run and read which models. The one place these rules live.

The HTTP layer builds an ``Access`` from the caller's token (their workspaces claim and the
``pie:admin`` scope) and the deployment's read mode, and passes it into the services; every service
asks it before it reads or writes anything under a model. Writes need the model's workspace among
the caller's (else 403, naming the workspace). Reads are open to every caller unless reads are
private; then a model of another workspace answers exactly as a model that does not exist (404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.domain.entities import WORKSPACE_PATTERN
from shared.domain.errors import (
    ModelNotFoundError,
    ScopeMissingError,
    WorkspaceAccessDeniedError,
    WorkspaceRequiredError,
)

ADMIN_SCOPE = "pie:admin"
# Moving or deleting a protected alias (the production pointer) needs this scope too.
PROMOTE_SCOPE = "models:promote"
# The JWT claim naming a caller's workspaces unless the deployment names another.
DEFAULT_WORKSPACES_CLAIM = "pie:workspaces"
_WORKSPACE = re.compile(WORKSPACE_PATTERN.removeprefix("^").removesuffix("$"))


def is_workspace_name(value: str) -> bool:
    # fullmatch: a pattern ending in ``$`` would admit a trailing newline.
    return _WORKSPACE.fullmatch(value) is not None


@dataclass(frozen=True)
class Access:
    """A caller's reach: ``workspaces`` they act in (all of them when ``admin``), and whether
    this deployment hides other workspaces' models from them (``private_reads``)."""

    subject: str
    workspaces: frozenset[str] = frozenset()
    admin: bool = False
    private_reads: bool = False
    # The token holds ``models:promote``: it may move and delete protected aliases.
    promote: bool = False

    @classmethod
    def service(cls, subject: str) -> Access:
        """PIE's own components (the dispatcher, AWS completion events): they act for every team."""
        return cls(subject=subject, admin=True, promote=True)

    @property
    def reads_everything(self) -> bool:
        """No model is hidden from this caller (reads are open, or they are an admin)."""
        return not self.private_reads or self.admin

    def can_write(self, workspace: str) -> bool:
        return self.admin or workspace in self.workspaces

    def can_read(self, workspace: str) -> bool:
        return not self.private_reads or self.can_write(workspace)

    def require_read(self, workspace: str, model_id: str) -> None:
        """Anything under model ``model_id`` of ``workspace`` may be read."""
        if not self.can_read(workspace):
            raise ModelNotFoundError(model_id)

    def require_write(self, workspace: str, model_id: str) -> None:
        """Anything under model ``model_id`` of ``workspace`` may be changed, run or completed.
        A model the caller may not even see is one that does not exist for them."""
        self.require_read(workspace, model_id)
        if not self.can_write(workspace):
            raise WorkspaceAccessDeniedError(
                workspace, f"model '{model_id}' belongs to workspace '{workspace}', which is not one of yours"
            )

    def require_promote(self, why: str) -> None:
        """A protected alias moves only for a caller holding ``models:promote`` (besides the
        workspace); ``pie:admin`` alone does not: who moves the production pointer is its own grant."""
        if not self.promote:
            raise ScopeMissingError(PROMOTE_SCOPE, why)

    def workspace_for_new_model(self, requested: str | None) -> str:
        """The workspace a model is created in: the one named, or the caller's only one."""
        if requested is None:
            if len(self.workspaces) == 1:
                return next(iter(self.workspaces))
            raise WorkspaceRequiredError(sorted(self.workspaces))
        if not self.can_write(requested):
            raise WorkspaceAccessDeniedError(
                requested, f"you cannot create models in workspace '{requested}': it is not one of yours"
            )
        return requested

    def listed_workspaces(self, requested: str | None) -> tuple[str, ...] | None:
        """The workspaces a list of models covers (None: every workspace), so that a list never
        holds a model the caller may not read."""
        visible = None if self.reads_everything else self.workspaces
        if requested is not None:
            return (requested,) if visible is None or requested in visible else ()
        return None if visible is None else tuple(sorted(visible))
