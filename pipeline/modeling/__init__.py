"""The SQL model layer: staging views and mart tables built from ``sql/`` in dependency order."""
