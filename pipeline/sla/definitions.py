"""SLA enforcement layer: the ``sla_enforcement`` job and ``overdue_mql_sensor`` (resources come from
``pipeline/definitions.py``)."""

import dagster as dg

from pipeline.sla.job import sla_enforcement_job
from pipeline.sla.sensor import overdue_mql_sensor

defs = dg.Definitions(jobs=[sla_enforcement_job], sensors=[overdue_mql_sensor])
