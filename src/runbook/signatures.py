"""Signed decisions and starts: ``ssh-keygen -Y sign`` / ``-Y verify`` against an allowed-signers file.

The same scheme git uses for signed commits. The approver signs a canonical message naming what is
decided (run, gate, decision) or started (phase, component), a random nonce and the time; the
runbook finds the signer's principal in the allowed-signers file and verifies the signature in the
``runbook`` namespace. A signature older than ``MAX_AGE_S`` or a nonce seen before is refused.
The identity is the principal the key is registered under, never a typed name.
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runbook.errors import ApprovalRefused, BadParameter

__all__ = ["MAX_AGE_S", "NAMESPACE", "SignedMessage", "decision_message", "sign", "start_message", "verify"]

NAMESPACE = "runbook"
MAX_AGE_S = 300  # seconds a signed message stays valid (as Slack's request window)
_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """A canonical message, its armored SSH signature, and the nonce and time (Unix s) it names."""

    text: str
    signature: str
    nonce: str
    at: int


def decision_message(*, flow_run_id: str, gate_key: str, decision: str, nonce: str, at: int) -> str:
    """The canonical text a signed gate decision covers."""
    return (f"runbook-decision v1\nrun: {flow_run_id}\ngate: {gate_key}\ndecision: {decision}\n"
            f"nonce: {nonce}\nat: {at}\n")


def start_message(*, phase: str, component: str, nonce: str, at: int) -> str:
    """The canonical text a signed phase start covers."""
    return f"runbook-start v1\nphase: {phase}\ncomponent: {component}\nnonce: {nonce}\nat: {at}\n"


def new_nonce() -> str:
    """A fresh random nonce (128 bits, hex)."""
    return secrets.token_hex(16)


def sign(text: str, *, key: Path, nonce: str, at: int) -> SignedMessage:
    """Sign ``text`` with the private key ``key`` (BadParameter naming the key when it cannot)."""
    if not Path(key).expanduser().is_file():
        raise BadParameter(f"--sign-with {key}: no such private key file")
    result = _ssh_keygen(["-Y", "sign", "-f", str(Path(key).expanduser()), "-n", NAMESPACE], text)
    if result.returncode != 0 or "BEGIN SSH SIGNATURE" not in result.stdout:
        detail = (result.stderr.strip().splitlines() or ["no signature"])[-1]
        raise BadParameter(f"--sign-with {key}: ssh-keygen could not sign ({detail})")
    return SignedMessage(text=text, signature=result.stdout, nonce=nonce, at=at)


def verify(signed: SignedMessage, *, allowed_signers: Path | None, now: float) -> str:
    """The principal who signed ``signed``, or ApprovalRefused naming why it does not verify.

    Freshness is checked here; the nonce's single use is the caller's (it lives in the store).
    """
    if allowed_signers is None or not Path(allowed_signers).is_file():
        raise ApprovalRefused(
            "signed decisions need RUNBOOK_ALLOWED_SIGNERS (an ssh-keygen allowed-signers file); "
            f"it is {'unset' if allowed_signers is None else f'missing: {allowed_signers}'}"
        )
    if abs(now - signed.at) > MAX_AGE_S:
        raise ApprovalRefused(f"the signature is stale (signed at {signed.at}, more than {MAX_AGE_S} s ago)")
    with tempfile.TemporaryDirectory(prefix="runbook-sig-") as folder:
        sig = Path(folder) / "message.sig"
        sig.write_text(signed.signature, encoding="utf-8")
        found = _ssh_keygen(["-Y", "find-principals", "-s", str(sig), "-f", str(allowed_signers)], "")
        lines = found.stdout.strip().splitlines() if found.returncode == 0 else []
        principal = lines[0] if lines else ""
        if not principal:
            raise ApprovalRefused("the signing key is not in the allowed-signers file")
        checked = _ssh_keygen(["-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", NAMESPACE,
                               "-s", str(sig)], signed.text)
    if checked.returncode != 0:
        raise ApprovalRefused(f"the signature does not verify for {principal!r} (message or key altered)")
    return principal


def _ssh_keygen(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["ssh-keygen", *args], input=stdin, capture_output=True, text=True,
                              timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ApprovalRefused(f"ssh-keygen is unavailable: {exc}") from None
