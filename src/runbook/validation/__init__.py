"""Validation of candidate engines against legacy ones (ADR-0011 phase 0 / 1.3, DESIGN.md section 6)."""

from runbook.validation.report import Check, ValidationReport, WorstScenario
from runbook.validation.validator import FinancialCalculationValidator, validate_component

__all__ = [
    "Check",
    "FinancialCalculationValidator",
    "ValidationReport",
    "WorstScenario",
    "validate_component",
]
