"""The portal's lifecycle stages: HubSpot's standard ``lifecyclestage`` options and, for a portal generated with
``custom_stages=True``, three custom stages (numeric internal values, as HubSpot gives custom stages) that play
no role in the default policy. The snapshot's ``properties`` map carries the definition exactly as the Properties
API returns it (``GET /crm/properties/{version}/contacts/lifecyclestage``).

Where the custom stages sit (gen_contact.py), none of which opens or ends an episode (contract 4):
- ``ENGAGED`` between ``lead`` and the first MQL (the episode opens: the entry before, skipping it, is ``lead``);
- ``WORKING`` right after an episode's first touch, sometimes followed by ``marketingqualifiedlead`` again a few
  minutes later: an MQL entry that does NOT open an episode (the entry before, skipping ``WORKING``, is MQL);
- ``NURTURING`` after a re-MQL contact's stage was cleared, before its next MQL (that MQL opens an episode: the
  entry before, skipping ``NURTURING``, is the cleared value).
"""

from __future__ import annotations

from hubspot_sandbox.crm_meta import STANDARD_LIFECYCLE_STAGES

ENGAGED = "1029384"
WORKING = "2938475"
NURTURING = "3847561"
CUSTOM_STAGES = {ENGAGED: "Engaged", WORKING: "Working", NURTURING: "Nurturing"}

# (label, internal value) in HubSpot's default display order (the one list: pipeline/policy.py, via crm_meta)
STANDARD_STAGES = tuple((label, value) for value, label in STANDARD_LIFECYCLE_STAGES)
# the custom portal's order: custom stages placed where a RevOps admin would put them, after these standard ones
_CUSTOM_AFTER = {"lead": (NURTURING, ENGAGED), "marketingqualifiedlead": (WORKING,)}
CUSTOM_ORDER = tuple(
    entry
    for label, value in STANDARD_STAGES
    for entry in ((label, value), *((CUSTOM_STAGES[custom], custom) for custom in _CUSTOM_AFTER.get(value, ())))
)


def lifecyclestage_definition(custom: bool) -> dict:
    """The contacts' ``lifecyclestage`` property definition in the Properties API's shape."""
    stages = CUSTOM_ORDER if custom else STANDARD_STAGES
    return {
        "name": "lifecyclestage", "label": "Lifecycle Stage", "type": "enumeration", "fieldType": "radio",
        "groupName": "contactinformation",
        "description": "The qualification of contacts to sales readiness. It can be set through imports, forms, "
                       "workflows, and manually on a per contact basis.",
        "options": [{"label": label, "value": value, "displayOrder": order, "hidden": False}
                    for order, (label, value) in enumerate(stages)],
        "displayOrder": 15, "hidden": False, "calculated": False, "externalOptions": False,
        "hasUniqueValue": False, "formField": True,
    }


def properties_map(custom: bool) -> dict | None:
    """The snapshot's optional ``properties`` map: ``{"contacts": [definition]}`` for a custom-stage portal; None
    for a standard one (the sandbox then serves HubSpot's standard definition)."""
    return {"contacts": [lifecyclestage_definition(True)]} if custom else None
