"""runbook.engines."""
