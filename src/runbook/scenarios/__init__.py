"""Scenarios: market history loading (``loader``), historical sets (``historical``), Monte Carlo
(``montecarlo``) and traffic replay (``replay``). Import the submodule you need; this package
imports nothing heavy on its own."""
