"""What production services import: the Router and its observation recorder.

    from runbook.runtime import ObservationRecorder, Router, connect

    store, sink = connect("postgresql+psycopg://...")
    recorder = ObservationRecorder(sink)
    var = Router("var_engine", legacy=old.calculate_var, candidate=new.calculate_var,
                 state_source=store, recorder=recorder)
    result = var.call(request, routing_key=request.portfolio_id)

Importing this package loads neither pandas, Prefect, Great Expectations, Slack nor SQLAlchemy;
``connect`` imports control's store when called.
"""

from runbook.runtime._capture import RequestCapture
from runbook.runtime._compare import default_compare, default_validate, structure_mismatch
from runbook.runtime._connect import connect
from runbook.runtime._hashing import result_digest, routing_point
from runbook.runtime._ports import CaptureSink, ObservationSink, StateSource
from runbook.runtime._recorder import ObservationRecorder
from runbook.runtime._router import Router
from runbook.runtime._serialize import default_serializer
from runbook.runtime.memory import InMemoryCaptureSink, InMemorySink, InMemoryStateSource

__all__ = [
    "CaptureSink",
    "InMemoryCaptureSink",
    "InMemorySink",
    "InMemoryStateSource",
    "ObservationRecorder",
    "ObservationSink",
    "RequestCapture",
    "Router",
    "StateSource",
    "connect",
    "default_compare",
    "default_serializer",
    "default_validate",
    "result_digest",
    "routing_point",
    "structure_mismatch",
]
