"""Placeholder layer module: replaced by its owner. Exposes ``defs``."""

import dagster as dg

defs = dg.Definitions()
