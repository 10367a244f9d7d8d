"""The outer ring that speaks Prefect: gates, per-component phase locks, artifacts, events,
settings for flows, deployments and the demo. Flows and tasks build on it; the library never
imports it."""
