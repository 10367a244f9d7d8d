"""What the runbook tells people: the HTML migration report and the Markdown of gates and outcomes.

Read from the audit log and the state store; no Prefect, no Slack."""
