"""runbook.runtime."""
