"""The outer ring that speaks Prefect: gates, per-component phase locks, artifacts, events,
settings for flows and deployments. Flows and tasks build on it; the library never imports it.
What does not speak Prefect lives in its own ring (reports, control, monitoring, engines) or in
the CLI edge (``runbook._cli``: the demo, the local Prefect server, ``runbook run``)."""
