"""Prefect tasks: thin adapters (I/O, retries) over the runbook library. No arithmetic, no SQL."""
