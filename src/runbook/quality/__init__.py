"""runbook.quality."""
