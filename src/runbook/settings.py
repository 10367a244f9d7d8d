"""One typed ``Settings``, read from ``RUNBOOK_*`` environment variables at the edges only.

The CLI and flow entry points build it and pass it down; the library never reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runbook.errors import BadSetting

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Configuration of a runbook installation. Every field maps to ``RUNBOOK_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="RUNBOOK_", extra="ignore")

    home: Path = Field(default=Path(".runbook"), description="state folder (SQLite file, reports, Data Docs)")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under home")

    # Longest wait on the state store, in seconds: connect, statement, SQLite busy lock.
    store_timeout_s: float = Field(default=5.0, gt=0)
    # `runbook rollback` retries until this many seconds after it started, then fails (exit 1).
    rollback_deadline_s: float = Field(default=25.0, gt=0)

    # Runtime router defaults (seconds).
    refresh_interval_s: float = 0.25
    max_staleness_s: float = 5.0

    # Raw observations are kept this many days (per-minute rollups for good); see `runbook observations`.
    observation_retention_days: float = 7.0

    # Validation on dask.distributed: the scheduler `runbook validate` sends partitions to
    # ("tcp://host:8786"); unset: one process, unless --workers N asks for a local cluster.
    dask_address: str | None = None

    # Slack; when the bot token is unset, messages go to the console and the run log.
    slack_bot_token: str | None = None
    slack_bot_token_block: str | None = Field(
        default=None,
        description="name of a Prefect Secret block holding the bot token (when the token is unset)",
    )
    slack_signing_secret: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_default_channel: str = "#runbook"
    slack_channels: dict[str, str] = Field(default_factory=dict, description="component -> channel id")
    # Approver allow-lists by component name or by tier ("critical", "standard"); empty = anyone.
    approvers: dict[str, list[str]] = Field(default_factory=dict)
    # Where typed names (CLI --as, the Prefect resume form, console) count: none, standard, all.
    unverified_channels: Literal["none", "standard", "all"] = Field(
        default="standard", description="gates on which an unverified (typed) name counts as a decision"
    )
    # ssh-keygen allowed-signers file (as git uses) holding the approvers' public keys.
    allowed_signers: Path | None = Field(
        default=None, description="allowed-signers file verifying `--sign-with` approvals and starts"
    )
    @field_validator("allowed_signers", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    # Base URL of the report server `runbook up` starts (links in the UI, Slack and the CLI).
    reports_url: str = "http://127.0.0.1:4280"

    # Prefect UI base URL used in links (e.g. http://127.0.0.1:4200).
    prefect_ui_url: str = "http://127.0.0.1:4200"

    # User engines by component: {"var_engine": {"legacy": "pkg.mod:Factory", "candidate": "..."}}.
    engines: dict[str, dict[str, str]] = Field(default_factory=dict)

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or a SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'runbook.db').resolve()}"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def data_docs_dir(self) -> Path:
        return self.home / "data_docs"


def load_settings() -> Settings:
    """``Settings()`` from the environment; a value that does not parse is one ``BadSetting`` line."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "RUNBOOK_" + "_".join(str(part) for part in first["loc"][:1]).upper()
        raise BadSetting(
            f"{name}={first.get('input')!r} is not valid: {first['msg']} ({exc.error_count()} problem(s))"
        ) from None
