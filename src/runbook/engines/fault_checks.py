"""Injected candidate defects (demos and drills): checked by name before a flow moves anything."""

from __future__ import annotations

from runbook.errors import BadParameter

__all__ = ["check_fault"]


def check_fault(component: str, fault: str | None) -> None:
    """BadParameter naming the fault and the ones ``component`` has, unless ``fault`` is None or known."""
    if fault is None:
        return
    from runbook.engines.registry import list_faults

    known = sorted(name for owner, name in list_faults() if owner == component)
    if fault not in known:
        raise BadParameter(
            f"inject_fault {fault!r} is not a defect of {component}; known: {', '.join(known) or 'none'}"
        )


def faults_for(components: list[str], fault: str | None) -> dict[str, str]:
    """Which of ``components`` get the defect ``fault`` (each one that has a defect of that name).

    BadParameter when none of them has it.
    """
    if fault is None:
        return {}
    from runbook.engines.registry import list_faults

    chosen = {owner: name for owner, name in list_faults() if name == fault and owner in components}
    if not chosen:
        known = sorted({f"{owner}:{name}" for owner, name in list_faults() if owner in components})
        raise BadParameter(f"inject_fault {fault!r} is not a defect of {', '.join(components)}; known: "
                           + ", ".join(known))
    return chosen
