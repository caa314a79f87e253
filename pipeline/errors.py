"""User-facing errors: one actionable line each, never a traceback.

Everything the CLI shows a user on failure is a :class:`HandoffError`; the CLI prints ``error: <message>``
and exits non-zero. Raise the most specific subclass so tests and callers can tell failures apart.
"""


class HandoffError(Exception):
    """A failure the user can act on; ``str(err)`` is the one-line message."""


class ConfigError(HandoffError):
    """Bad configuration: environment variables, the policy file."""


class SnapshotError(HandoffError):
    """A portal snapshot that cannot be loaded (names the object and field)."""


class HubSpotApiError(HandoffError):
    """HubSpot answered with an error we cannot recover from (names the endpoint)."""


class DatabaseLockedError(HandoffError):
    """The DuckDB file is held by another process."""
