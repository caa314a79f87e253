"""hubspot-lead-handoff: measure and enforce the HubSpot lead handoff."""

__version__ = "0.1.0"
