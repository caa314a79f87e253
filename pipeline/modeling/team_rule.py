"""The one statement of an owner's team (docs/contracts.md): the primary team, else the first team by name.

Every model and the incremental bookkeeping read it from here (templates: ``{{ primary_team }}``), so the
marts, the funnel's lead side and the team-move detection can never disagree (the SLA routing roster lists
an owner's teams in the same order, primary first).
"""

from __future__ import annotations

PRIMARY_TEAM_SQL = """SELECT owner_id, arg_min(team_name, (NOT is_primary, team_name)) AS team
    FROM staging.owner_teams WHERE team_name IS NOT NULL GROUP BY owner_id"""
