"""SLA enforcement layer: the live lane's ``new_mql_sensor`` -> ``mql_handoff`` and ``overdue_mql_sensor`` ->
``sla_enforcement`` (resources come from ``pipeline/definitions.py``)."""

import dagster as dg

from pipeline.sla.handoff_job import mql_handoff_job
from pipeline.sla.handoff_sensor import new_mql_sensor
from pipeline.sla.job import sla_enforcement_job
from pipeline.sla.sensor import overdue_mql_sensor

defs = dg.Definitions(jobs=[sla_enforcement_job, mql_handoff_job], sensors=[overdue_mql_sensor, new_mql_sensor])
