"""The pipeline's shape for people reading it: stages in order with their leads, and score bands."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from crm.api.http import CRM, Routes
from crm.api.responses import Pipeline
from crm.models import Lead

api = Routes("pipeline")


@api.route("GET", "/api/pipeline", response=Pipeline)
async def pipeline(request: web.Request) -> web.Response:
    """The stages in order (closed ones marked), how many leads each holds, and the score bands."""
    policy = request.app[CRM].policy
    async with request.app[CRM].db.session() as session:
        counts = dict(
            (await session.execute(select(Lead.stage, func.count()).group_by(Lead.stage))).all()
        )
    stages = policy.stages
    # Leads may sit in a stage a previous stages file had: they are shown after the others.
    names = [*stages.names, *sorted(set(counts) - set(stages.names) - {None})]
    return web.json_response(
        {
            "stages": [
                {"name": name, "closed": name in stages.closed, "leads": counts.get(name, 0)}
                for name in names
            ],
            "bands": [
                {"name": b.name, "label": b.label, "min": b.min, "max": b.max}
                for b in policy.scoring.bands
            ],
        }
    )
