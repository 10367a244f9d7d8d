"""runbook.control."""
