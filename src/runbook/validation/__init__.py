"""runbook.validation."""
