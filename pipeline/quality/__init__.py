"""Data-quality suites (Great Expectations 1.x) over the marts, run as blocking Dagster asset checks."""
