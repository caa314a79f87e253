"""The one door from the pipeline to the optional sandbox (``hubspot_sandbox``, the ``sandbox`` extra).

The pipeline never imports the sandbox at module level: a production install against a real portal has
neither it nor FastAPI/uvicorn. Commands that need it (the embedded portal of ``handoff run``/``demo``/``dev``
without a token, ``handoff sandbox``, ``handoff routing test --snapshot``) import it through here and get one
line saying how to install it when it is absent.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pipeline.errors import ConfigError

INSTALL_HINT = ("the embedded HubSpot sandbox is not installed (it is the optional `sandbox` extra): "
                "pip install 'hubspot-lead-handoff[sandbox]' (make demo / make test install it), "
                "or set HUBSPOT_ACCESS_TOKEN to use a real portal")


def sandbox_module(name: str) -> ModuleType:
    """``hubspot_sandbox.<name>``, or a ConfigError with the install hint when the extra is missing."""
    try:
        return importlib.import_module(f"hubspot_sandbox.{name}")
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if missing.split(".")[0] in ("hubspot_sandbox", "fastapi", "uvicorn", "starlette"):
            raise ConfigError(INSTALL_HINT) from None
        raise
