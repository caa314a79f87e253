"""The embedded HubSpot sandbox: a CRM v3/v4 API on localhost (FastAPI + uvicorn) serving a portal snapshot.

Modules: ``snapshot`` (load + validate), ``portal`` (in-memory store + mutation API; ``object_store``,
``portal_load``), ``search`` (CRM search), ``routes`` (the endpoints), ``server`` (auth/limits/faults gate, ``run_in_thread``), ``ratelimit``, ``faults``,
``stats``, ``crm_model`` (object types, default properties, association type ids), ``cli``
(``handoff sandbox``); the ``gen_*`` modules and ``generator`` build realistic portals. docs/sandbox.md.
"""
