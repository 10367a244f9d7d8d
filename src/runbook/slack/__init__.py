"""runbook.slack."""
