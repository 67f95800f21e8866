"""``phoneagent-vapi``: push assistant files to VAPI, list them, place and read VAPI calls.

    phoneagent-vapi push assistants/default.json   # create or update; id kept in default.vapi
    phoneagent-vapi push --all --dry-run           # print what would be sent
    phoneagent-vapi list
    phoneagent-vapi call --to +14155550100 [--assistant NAME]
    phoneagent-vapi get-call CALL_ID

Settings come from the environment like the server's (VAPI_API_KEY, VAPI_BASE_URL,
PUBLIC_URL, VAPI_SECRET, VAPI_PHONE_NUMBER_ID, VAPI_MODEL/VOICE/TRANSCRIBER, DATABASE_URL).
Errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from agent import vapi_ids as ids
from agent.assistant_files import AssistantFileError, load_assistant
from config import Settings, configure_logging
from telephony.vapi.client import VapiClient, VapiError
from telephony.vapi.translate import VapiSettingError, VapiTarget, vapi_assistant


class CliError(Exception):
    """A problem to report in one line."""


def _client(settings: Settings) -> VapiClient:
    return VapiClient(settings.vapi_api_key, settings.vapi_base_url)


async def push(
    settings: Settings, paths: list[Path], *, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Create or update each file's VAPI assistant and keep its id beside the file.

    Returns one line of outcome per file (name, id, created or updated).
    """
    target = VapiTarget.for_server(settings)
    if not settings.public_url and not dry_run:
        print(
            f"warning: PUBLIC_URL is not set; VAPI will send events to {target.events_url}, "
            "which it cannot reach from the internet",
            file=sys.stderr,
        )
    pushed = []
    client = None if dry_run else _client(settings)
    try:
        for path in paths:
            entry = load_assistant(path)
            body = vapi_assistant(entry, target)
            if client is None:
                print(json.dumps(body, indent=2))
                continue
            stored = ids.pushed(path)
            known = entry.assistant.vapi.assistant_id or (stored.assistant_id if stored else "")
            action = "updated"
            try:
                result = await client.update_assistant(known, body) if known else None
            except VapiError as e:
                if e.status != 404:
                    raise
                result = None  # deleted on VAPI: create it again
            if result is None:
                result, action = await client.create_assistant(body), "created"
            record = ids.store(path, str(result["id"]), entry.sha256)  # the bytes that were pushed
            pushed.append(
                {
                    "name": entry.name,
                    "assistantId": record.assistant_id,
                    "action": action,
                    "file": str(ids.sidecar(path)),
                }
            )
    finally:
        if client is not None:
            await client.close()
    return pushed


async def list_assistants(settings: Settings) -> list[dict[str, Any]]:
    """The account's VAPI assistants."""
    async with _client(settings) as client:
        return await client.list_assistants()


async def get_call(settings: Settings, call_id: str) -> dict[str, Any]:
    """A VAPI call."""
    async with _client(settings) as client:
        return await client.get_call(call_id)


async def place_call(
    settings: Settings, to: str, assistant: str | None, *, now: datetime | None = None
) -> dict[str, Any]:
    """Place one outbound call through VAPI, recorded in our database like a campaign call.

    The number goes through the dialer's own check first
    (:func:`crm.outbound.call_permission.refusal`): not on the do-not-call list, the lead
    has not refused calls, and the default calling window (09:00-18:00, Monday to
    Friday) is open in the callee's time zone.

    Raises:
        CliError: The number may not be called now, or VAPI refused the call.
    """
    from agent.library import AssistantLibrary
    from crm.db import Database
    from crm.models import Call, utcnow
    from crm.outbound.call_permission import REFUSALS, refusal
    from crm.outbound.calling_windows import lead_zones
    from crm.outbound.campaign_spec import Window
    from crm.outbound.dial_outcomes import attempt_placed
    from crm.phone_numbers import InvalidPhoneNumber, to_e164
    from telephony.dependencies import CallDependencies
    from telephony.outbound.providers import DialError, OutboundCall
    from telephony.vapi.outbound import VapiOutbound
    from telephony.vapi.service import VapiService

    try:
        number = to_e164(to)
    except InvalidPhoneNumber as e:
        raise CliError(f"--to: {e}") from None
    database = Database(settings.resolved_database_url)
    try:
        await database.migrate()
        library = AssistantLibrary(settings.assistants_dir)
        await library.load()
        entry = library.entry(assistant)
        service = VapiService(CallDependencies(database, library), VapiTarget.for_server(settings))
        lead = await service.deps.leads.get_or_create(number, source="outbound-call")
        async with database.session() as session:
            zones = lead_zones(lead.timezone, number, "UTC")
            why = await refusal(
                session, number, lead, Window().calling_window(), zones, now or utcnow()
            )
            if why:
                raise CliError(f"not calling {number}: {REFUSALS[why]} ({', '.join(zones)})")
            call = Call(
                provider="vapi",
                direction="outbound",
                to_number=number,
                assistant=entry.name,
                status="queued",
                lead_id=lead.id,
            )
            session.add(call)
        outbound = VapiOutbound(
            _client(settings), service, default_phone_number_id=settings.vapi_phone_number_id
        )
        try:
            vapi_id = await outbound.place(
                OutboundCall(call.id, number, "", assistant=entry.name, lead_id=lead.id)
            )
        except DialError as e:
            async with database.session() as session:
                row = await session.get(Call, call.id)
                row.status, row.end_reason = "failed", f"dial-error: {e}"[:48]
            raise CliError(str(e)) from None
        finally:
            await outbound.close()
        await attempt_placed(database, call.id, vapi_id)
        return {"callId": call.id, "vapiCallId": vapi_id, "assistant": entry.name, "to": number}
    finally:
        await database.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``phoneagent-vapi``."""
    parser = argparse.ArgumentParser(prog="phoneagent-vapi", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_push = commands.add_parser(
        "push", help="create or update VAPI assistants from assistant files"
    )
    p_push.add_argument("files", nargs="*", type=Path)
    p_push.add_argument("--all", action="store_true", help="every file in ASSISTANTS_DIR")
    p_push.add_argument(
        "--dry-run", action="store_true", help="print the VAPI assistant, send nothing"
    )
    commands.add_parser("list", help="list the account's VAPI assistants")
    p_call = commands.add_parser("call", help="place an outbound call through VAPI")
    p_call.add_argument("--to", required=True)
    p_call.add_argument("--assistant")
    p_get = commands.add_parser("get-call", help="show a VAPI call")
    p_get.add_argument("call_id")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    try:
        if args.command == "push":
            files = sorted(settings.assistants_dir.glob("*.json")) if args.all else args.files
            if not files:
                raise CliError("name assistant files to push, or --all")
            for line in asyncio.run(push(settings, files, dry_run=args.dry_run)):
                print(
                    f"{line['name']}: {line['action']} VAPI assistant {line['assistantId']} "
                    f"(id kept in {line['file']})"
                )
        elif args.command == "list":
            for item in asyncio.run(list_assistants(settings)):
                print(f"{item.get('id')}  {item.get('name', '')}")
        elif args.command == "call":
            print(json.dumps(asyncio.run(place_call(settings, args.to, args.assistant)), indent=2))
        else:
            print(json.dumps(asyncio.run(get_call(settings, args.call_id)), indent=2))
    except (VapiError, CliError, VapiSettingError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except AssistantFileError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
