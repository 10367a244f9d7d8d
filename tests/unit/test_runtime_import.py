"""Production services import runbook.runtime: it must stay light."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["pandas", "prefect", "great_expectations", "slack_sdk", "sqlalchemy", "numpy", "scipy"]


def test_import_runtime_loads_no_heavy_package():
    """A fresh interpreter importing runbook.runtime loads none of pandas, Prefect, GX, Slack, SQLAlchemy."""
    code = (
        "import json, sys; import runbook.runtime; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
