"""The one error tree of runbook.

Every error the library raises on purpose derives from ``RunbookError``; the CLI turns
``UserInputError`` subclasses into one line on stderr and exit code 2, and nothing else.

    RunbookError
    ├── UserInputError                  bad input from a person: exit 2, nothing written
    │   ├── UnknownComponent            a component name not in the catalog
    │   ├── InvalidTrafficFraction      a canary share outside (0, 100) percent
    │   ├── InvalidTransition           a mode change the state machine refuses
    │   ├── BadInputData                market data, scenarios or shapes that cannot be used
    │   ├── BadEngine                   an engine import path or signature that does not fit
    │   ├── BadSuite                    a data-quality suite file that cannot be loaded
    │   ├── BadParameter                a flow or command parameter out of range
    │   ├── BadSetting                  a RUNBOOK_* setting that does not parse
    │   └── UnknownGate                 a gate key that does not exist or belongs to another run
    ├── ConcurrentModification          another writer changed the component first (epoch check)
    ├── ComponentBusy                   another phase already holds the component (one at a time)
    ├── StoreUnavailable                the state store cannot be reached (or did not answer in time)
    │   └── StoreMissing                the SQLite store file is gone (deleted or moved)
    ├── RollbackFailed                  a rollback not done and verified before its deadline
    ├── OrchestratorUnavailable         the Prefect API does not answer
    ├── ClusterUnavailable              the dask scheduler validation is sent to does not answer
    ├── AuditChainBroken                the audit log's hash chain does not verify
    ├── ValidationFailed                a validation or data-quality check did not pass
    ├── ApprovalRefused                 an approval that the gate's policy does not accept
    ├── PhaseStartRefused               a critical phase not started from a verified channel
    ├── AutomaticRollback               the monitor rolled a component back during a phase
    ├── GateRejected                    a human rejected a gate
    └── GateTimedOut                    nobody decided a gate in time
"""

from __future__ import annotations

__all__ = [
    "ApprovalRefused",
    "AuditChainBroken",
    "AutomaticRollback",
    "BadEngine",
    "BadInputData",
    "BadParameter",
    "BadSetting",
    "BadSuite",
    "ClusterUnavailable",
    "ComponentBusy",
    "ConcurrentModification",
    "GateRejected",
    "GateTimedOut",
    "InvalidTrafficFraction",
    "InvalidTransition",
    "OrchestratorUnavailable",
    "PhaseStartRefused",
    "RollbackFailed",
    "RunbookError",
    "StoreMissing",
    "StoreUnavailable",
    "UnknownComponent",
    "UnknownGate",
    "UserInputError",
    "ValidationFailed",
]


class RunbookError(Exception):
    """Base of every error runbook raises on purpose."""


class UserInputError(RunbookError):
    """A person gave a value that is not allowed; the message names it and what is allowed."""


class UnknownComponent(UserInputError):
    """A component name that is not in the catalog."""


class InvalidTrafficFraction(UserInputError):
    """A canary traffic share outside the open interval (0, 100) percent."""


class InvalidTransition(UserInputError):
    """A mode change that the state machine does not allow from the current mode."""


class BadInputData(UserInputError):
    """Input data (prices, dates, scenarios, shapes) that cannot be used as given."""


class BadEngine(UserInputError):
    """An engine import path that does not resolve, or an object that does not fit the protocol."""


class BadSuite(UserInputError):
    """A data-quality suite file that is malformed or names an unknown expectation type."""


class BadParameter(UserInputError):
    """A flow or command parameter outside its allowed range."""


class BadSetting(UserInputError):
    """A ``RUNBOOK_*`` setting does not parse; the message names the variable and what is allowed."""


class UnknownGate(UserInputError):
    """A gate key this store does not know, or one that belongs to another run."""


class ConcurrentModification(RunbookError):
    """Another writer changed the component between our read and our write."""


class ComponentBusy(RunbookError):
    """Another phase flow already holds the component; one phase per component at a time."""


class StoreUnavailable(RunbookError):
    """The state store could not be reached."""


class StoreMissing(StoreUnavailable):
    """The SQLite store file does not exist (deleted or moved); it is never silently re-created."""


class RollbackFailed(RunbookError):
    """A rollback could not be done and verified before its deadline; the message says why."""


class OrchestratorUnavailable(RunbookError):
    """The Prefect API does not answer (for commands that need it; rollback never does)."""


class ClusterUnavailable(RunbookError):
    """The dask scheduler validation was sent to does not answer."""


class AuditChainBroken(RunbookError):
    """The audit log's hash chain does not verify; the message names the first broken row."""

    def __init__(self, message: str, *, row_id: int | None = None) -> None:
        super().__init__(message)
        self.row_id = row_id


class ValidationFailed(RunbookError):
    """A validation or data-quality check failed; carries the report when one exists."""

    def __init__(self, message: str, *, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class ApprovalRefused(RunbookError):
    """An approval or rejection that the gate's policy does not accept (who, when, or which gate)."""


class PhaseStartRefused(RunbookError):
    """A phase of a critical component started without a verified initiator."""


class AutomaticRollback(RunbookError):
    """The monitor found a rollback trigger during a phase and rolled the component back."""


class GateRejected(RunbookError):
    """A human rejected a gate."""


class GateTimedOut(RunbookError):
    """Nobody decided a gate before its timeout."""
