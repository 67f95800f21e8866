"""Leads in and out as CSV: import (all or nothing, with a per-line error report) and export."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web
from pydantic import Field
from sqlalchemy import select

from crm import lead_import
from crm.api.http import CRM, ApiError, ApiModel, Routes, actor, query
from crm.api.leads import SORTS, LeadFilter, lead_conditions
from crm.api.responses import ImportReport
from crm.cpu_sharing import collector_paused
from crm.csv_cells import neutralise
from crm.models import Lead
from crm.policy import Policy
from crm.shapes import iso

api = Routes("leads")
# The documented limit of one CSV file (README, the OpenAPI description); 413 beyond it.
MAX_BYTES = 20 * 2**20
READ_CHUNK = 2**16
COLUMNS = (
    "id",
    "phone",
    "name",
    "email",
    "company",
    "source",
    "timezone",
    "language",
    "stage",
    "score",
    "band",
    "tags",
    "owner",
    "do_not_call",
    "consent_calls",
    "consent_recording",
    "consent_marketing",
    "budget",
    "authority",
    "need",
    "timeline",
    "last_contacted_at",
    "created_at",
)


class ImportQuery(ApiModel):
    """Options of a CSV import."""

    region: str | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="country for numbers without +prefix (default: DEFAULT_REGION)",
    )
    dry_run: bool = Field(default=False, description="validate and report, write nothing")


class ImportBody(ApiModel):
    """A CSV file (``text/csv`` body, or a multipart field named ``file``; at most 20 MB, else
    413, and 50,000 rows): a ``phone`` column, optional name, email, company, source, timezone,
    language, stage, owner, tags (``;``-separated), budget, authority, need, timeline,
    consent_calls, consent_recording, consent_marketing, do_not_call; other columns become
    custom fields."""


class _DryRun(Exception):
    """Raised to roll a dry run back."""


def _too_large() -> ApiError:
    return ApiError(
        413, "too_large", f"CSV files are at most {MAX_BYTES // 2**20} MB; split the file"
    )


async def _at_most(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Every chunk of a body, joined; 413 as soon as it passes ``limit`` bytes."""
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > limit:
            raise _too_large()
    return bytes(data)


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(READ_CHUNK):
        yield chunk


async def csv_bytes(request: web.Request) -> bytes:
    """A request's whole CSV file: a ``text/csv`` body or a multipart ``file``, read to its end.

    Raises:
        ApiError: 413 past MAX_BYTES (the app's client_max_size does not apply here); 400
            without a ``file`` field.
    """
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.name == "file":
                data = await _at_most(_part_chunks(part), MAX_BYTES)
                return await _at_most(part.decode_iter(data), MAX_BYTES)  # transfer encodings
        raise ApiError(400, "invalid_request", 'send the CSV in a multipart field named "file"')
    if (request.content_length or 0) > MAX_BYTES:
        raise _too_large()
    return await _at_most(request.content.iter_chunked(READ_CHUNK), MAX_BYTES)


def decode_csv(data: bytes) -> str:
    """CSV bytes as text: UTF-8, else Latin-1 (spreadsheets often save as Latin-1)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


async def csv_text(request: web.Request) -> str:
    """A request's CSV text (see :func:`csv_bytes`)."""
    return decode_csv(await csv_bytes(request))


async def parse_csv(
    request: web.Request, policy: Policy, region: str
) -> tuple[list[lead_import.ImportRow], lead_import.ImportReport]:
    """A request's CSV file read, decoded and validated row by row in a worker thread (tens of
    thousands of rows are seconds of CPU that live calls' audio must not wait behind)."""
    data = await csv_bytes(request)
    return await asyncio.to_thread(lambda: lead_import.parse(decode_csv(data), policy, region))


@api.route(
    "POST",
    "/api/leads/import",
    query=ImportQuery,
    body=ImportBody,
    body_type="text/csv",
    response=ImportReport,
    also=(200,),
)
async def import_leads(request: web.Request) -> web.Response:
    """Import leads from CSV: all rows or none; 400 with every broken line if any row is invalid."""
    options = query(request, ImportQuery)
    with collector_paused():  # a big file allocates for seconds beside live calls
        return await _import(request, options)


async def _import(request: web.Request, options: ImportQuery) -> web.Response:
    crm = request.app[CRM]
    region = (options.region or crm.settings.default_region).upper()
    rows, report = await parse_csv(request, crm.policy, region)
    if report.errors:
        body = {
            "error": "invalid_rows",
            "detail": f"{len(report.errors)} problem(s); nothing was imported",
        }
        return web.json_response(body | report.as_json(), status=400)
    try:
        async with crm.db.session() as session:
            await lead_import.apply(session, crm.policy, rows, report, actor=actor(request))
            if options.dry_run:
                raise _DryRun  # rolls the transaction back
    except _DryRun:
        pass
    return web.json_response(
        report.as_json() | {"dryRun": options.dry_run}, status=200 if options.dry_run else 201
    )


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return neutralise(";".join(map(str, value)))
    return iso(value) if hasattr(value, "isoformat") else neutralise(str(value))


@api.route("GET", "/api/leads.csv", query=LeadFilter, response_type="text/csv")
async def export_leads(request: web.Request) -> web.StreamResponse:
    """Export leads as CSV (same filters as the list); custom fields become columns of their own."""
    params = query(request, LeadFilter)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="leads.csv"',
        }
    )
    async with request.app[CRM].db.session() as session:
        where = lead_conditions(params, session.bind.dialect.name)
        custom = sorted(
            {
                key
                for fields in await session.scalars(select(Lead.custom_fields).where(*where))
                for key in (fields or {})
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([*COLUMNS, *map(neutralise, custom)])
        result = await session.stream_scalars(
            select(Lead).where(*where).order_by(SORTS[params.sort], Lead.id)
        )
        async for lead in result:
            writer.writerow(
                [
                    *(_cell(getattr(lead, c)) for c in COLUMNS),
                    *(_cell((lead.custom_fields or {}).get(k)) for k in custom),
                ]
            )
            if buffer.tell() > 64_000:
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
        await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response
