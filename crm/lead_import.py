"""Leads from CSV: numbers in E.164, duplicates merged, each broken row reported, all or nothing."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm import bulk_leads
from crm.analysis.text import fold
from crm.audit import audit
from crm.cpu_sharing import step_aside
from crm.csv_cells import restore
from crm.import_rows import ImportReport, ImportRow, RowError
from crm.lead_fields import FLAG_FIELDS, TEXT_FIELDS, LeadFields
from crm.models import utcnow
from crm.phone_numbers import InvalidPhoneNumber, to_e164
from crm.policy import Policy

HEADERS = {
    "phone": "phone",
    "phone_number": "phone",
    "telephone": "phone",
    "mobile": "phone",
    "telefono": "phone",
    "movil": "phone",
    "celular": "phone",
    "numero": "phone",
    "name": "name",
    "full_name": "name",
    "nombre": "name",
    "email": "email",
    "e_mail": "email",
    "correo": "email",
    "company": "company",
    "empresa": "company",
    "source": "source",
    "fuente": "source",
    "origen": "source",
    "timezone": "timezone",
    "time_zone": "timezone",
    "zona_horaria": "timezone",
    "language": "language",
    "idioma": "language",
    "stage": "stage",
    "etapa": "stage",
    "owner": "owner",
    "vendedor": "owner",
    "propietario": "owner",
    "tags": "tags",
    "etiquetas": "tags",
    "budget": "budget",
    "presupuesto": "budget",
    "authority": "authority",
    "autoridad": "authority",
    "need": "need",
    "necesidad": "need",
    "timeline": "timeline",
    "plazo": "timeline",
    "do_not_call": "do_not_call",
    "dnc": "do_not_call",
    "no_llamar": "do_not_call",
    **{name: name for name in FLAG_FIELDS},
}
TRUE = {"true", "yes", "y", "1", "si", "x"}
FALSE = {"false", "no", "n", "0", ""}
MAX_ROWS = 50_000
# Rows that need the ORM (existing leads, stage moves) per flush.
ORM_BATCH = 100


def _header_name(raw: str) -> str:
    raw = restore(raw.strip())
    key = fold(raw).replace(" ", "_").replace("-", "_")
    return HEADERS.get(key, raw)


def _flag(value: str) -> bool | None:
    folded = fold(value).strip()
    if folded in TRUE:
        return True
    if folded in FALSE:
        return None if not folded else False
    raise ValueError(f"{value!r} is not yes/no")


def parse(text: str, policy: Policy, region: str) -> tuple[list[ImportRow], ImportReport]:
    """Validate every row; rows with the same number merge (later non-empty values win)."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    names = {raw: _header_name(raw) for raw in reader.fieldnames or []}
    if "phone" not in names.values():
        report.errors.append(
            RowError(1, "phone", "the header has no phone column (phone, telefono, mobile...)")
        )
        return [], report
    merged: dict[str, ImportRow] = {}
    for line, raw in enumerate(reader, start=2):
        step_aside(line)  # parse runs in a worker thread beside live calls
        report.rows += 1
        if report.rows > MAX_ROWS:
            report.errors.append(RowError(line, "", f"more than {MAX_ROWS} rows; split the file"))
            break
        row = _row(
            line,
            {names[k]: restore((v or "").strip()) for k, v in raw.items() if k is not None},
            policy,
            region,
            report,
        )
        if row is None:
            continue
        if row.phone in merged:
            report.merged_duplicates += 1
            _merge(merged[row.phone], row)
        else:
            merged[row.phone] = row
    return list(merged.values()), report


def _row(
    line: int, cells: dict[str, str], policy: Policy, region: str, report: ImportReport
) -> ImportRow | None:
    errors_before = len(report.errors)
    try:
        phone = to_e164(cells.get("phone", ""), region)
    except InvalidPhoneNumber as e:
        report.errors.append(RowError(line, "phone", str(e)))
        phone = ""
    values: dict[str, Any] = {k: cells[k] or None for k in TEXT_FIELDS if k in cells}
    custom = {k: v for k, v in cells.items() if k not in HEADERS.values() and v}
    if custom:
        values["custom_fields"] = custom
    if cells.get("tags"):
        values["tags"] = [t for t in cells["tags"].replace("|", ";").split(";") if t.strip()]
    flags: dict[str, bool | None] = {}
    for name in (*FLAG_FIELDS, "do_not_call"):
        try:
            flags[name] = _flag(cells[name]) if name in cells else None
        except ValueError as e:
            report.errors.append(RowError(line, name, str(e)))
    stage = cells.get("stage") or None
    if stage and stage not in policy.stages.names:
        report.errors.append(
            RowError(
                line,
                "stage",
                f"unknown stage {stage!r}; stages are: {', '.join(policy.stages.names)}",
            )
        )
    try:
        fields = LeadFields.model_validate(
            values | {k: v for k, v in flags.items() if k in FLAG_FIELDS}
        )
    except ValidationError as e:
        for error in e.errors():
            report.errors.append(
                RowError(
                    line,
                    str(error["loc"][0]) if error["loc"] else "",
                    error["msg"].removeprefix("Value error, "),
                )
            )
        return None
    if len(report.errors) > errors_before:
        return None
    return ImportRow(phone, fields, stage, flags.get("do_not_call"), [line])


def _merge(into: ImportRow, row: ImportRow) -> None:
    data = into.fields.model_dump(exclude_none=True)
    later = row.fields.model_dump(exclude_none=True)
    if "tags" in data and "tags" in later:
        later["tags"] = sorted(set(data["tags"]) | set(later["tags"]))
    if "custom_fields" in data and "custom_fields" in later:
        later["custom_fields"] = {**data["custom_fields"], **later["custom_fields"]}
    into.fields = LeadFields.model_validate(data | later)
    into.stage = row.stage or into.stage
    into.do_not_call = row.do_not_call if row.do_not_call is not None else into.do_not_call
    into.lines += row.lines


async def apply(
    session: AsyncSession,
    policy: Policy,
    rows: list[ImportRow],
    report: ImportReport,
    *,
    actor: str,
) -> None:
    """Create or update each lead in one transaction (the caller's); existing values only grow.

    New leads that need no stage move or do-not-call change (nearly all of a big file) are
    built in a worker thread and inserted in bulk; the rest go through the ORM a batch at a
    time, so the event loop (live calls) is never held for long.
    """
    known = await bulk_leads.existing_phones(session, [row.phone for row in rows])
    first = policy.stages.names[0]
    fresh = [
        row
        for row in rows
        if row.phone not in known and row.stage in (None, first) and row.do_not_call is None
    ]
    values = await asyncio.to_thread(bulk_leads.new_lead_values, fresh, policy, utcnow())
    await bulk_leads.insert_new_leads(session, values)
    report.created += len(fresh)
    fresh_phones = {row.phone for row in fresh}
    others = [row for row in rows if row.phone not in fresh_phones]
    for i in range(0, len(others), ORM_BATCH):
        await bulk_leads.apply_batch(
            session, policy, others[i : i + ORM_BATCH], report, actor=actor
        )
        await session.flush()
        await asyncio.sleep(0)
    audit(
        session,
        actor,
        "lead.import",
        "lead",
        None,
        {k: v for k, v in report.as_json().items() if k != "errors"},
    )
