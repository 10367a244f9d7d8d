"""Which packages the distribution installs (the rest of the metadata is in pyproject.toml).

The library comes from src/. The repository's flows/ and tasks/ folders stay at the root, where
Prefect's entrypoints (``flows/shadow.py:shadow``) and the checkout use them, and ship inside the
package as ``runbook._project.flows`` and ``runbook._project.tasks``: never as top-level ``flows``
and ``tasks``, names other distributions install too. ``runbook.orchestration.deployments`` finds
them there when the working directory is not a checkout.
"""

from setuptools import find_namespace_packages, setup

setup(
    package_dir={"": "src", "runbook._project.flows": "flows", "runbook._project.tasks": "tasks"},
    packages=[*find_namespace_packages("src", include=["runbook", "runbook.*"]),
              "runbook._project.flows", "runbook._project.tasks"],
)
