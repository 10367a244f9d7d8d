"""runbook: ADR-0011's low-risk engine migration as software.

The library is split in rings (see README): ``domain``, ``engines``, ``scenarios``, ``validation``,
``control``, ``runtime`` and ``monitoring`` never import Prefect, Great Expectations or Slack.
"""

__version__ = "0.1.0"
