"""runbook.monitoring."""
