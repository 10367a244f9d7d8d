"""runbook.scenarios."""
