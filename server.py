"""The aiohttp application: config in, routes mounted, models and workers started and stopped."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from loguru import logger
from sqlalchemy import text

from agent import api as agent_api
from agent.assistant import OUR_PIPELINE
from agent.assistant_files import AssistantBook, AssistantFileError
from agent.library import AssistantLibrary
from agent.llm import LLMEndpoint
from agent.local_llm import DEMO_MODEL_NOTICE, LocalModel, ModelFileError, gguf_path
from config import Settings, SettingsError, configure_logging
from crm import api as crm_api
from crm.analysis.llm import LLMSettings
from crm.calls import CallStore
from crm.db import Database
from crm.outbound.campaign_spec import CampaignFileError, load_campaign_files
from crm.outbound.campaigns import sync_campaign_files
from crm.rules.loader import RuleFileError
from crm.scoring import ScoringError
from crm.service import CrmService, CrmSettings
from crm.stages import StageError
from crm.webhooks.outbox import WebhookSettings
from telephony.capacity import CAPACITY, CallCapacity
from telephony.carrier import HEALTH
from telephony.dependencies import DEPS, CallDependencies
from telephony.desk import listen as desk_listen
from telephony.desk import routes as desk_routes
from telephony.desk.offers import AgentDesk
from telephony.live import LIVE, LiveCalls
from telephony.live_postgres import PostgresCalls
from telephony.loop_lag import LoopLag
from telephony.orphans import ASK_CARRIER, CALL_LEASES, CallLeases
from telephony.outbound.dialer import Dialer
from telephony.outbound.providers import build_providers, register_outbound
from telephony.overflow import OVERFLOW, OverflowDefaults, Overflows
from telephony.readiness import readiness_check
from telephony.recorder import CallRecordings
from telephony.sip.carrier import SipCarrier, SipStartError
from telephony.sip.server_settings import SipCarrierSettings, SipSettingError
from telephony.twilio.carrier import TwilioCarrier
from telephony.twilio.settings import TwilioSettings
from telephony.vapi import routes as vapi_routes
from telephony.vapi.outbound import vapi_outbound
from telephony.vapi.overflow import VapiHandover
from telephony.vapi.service import VapiService
from telephony.vapi.translate import VapiSettingError, VapiTarget
from telephony.web.carrier import WebCarrier
from telephony.web.routes import api as talk_api
from voice.engines import SpeechConfig, load_speech_models
from voice.memory import limit_malloc_arenas, release_free_memory
from voice.model_files import ModelNotFoundError
from web import routes as web_routes

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
REMOTE_CALLS = web.AppKey("remote_calls", PostgresCalls)

health = web.RouteTableDef()

# /healthz reports a database that has not answered within this long as down.
HEALTH_DATABASE_SECS = 0.8
# The database check in flight, if any (one at a time, however often /healthz is asked).
HEALTH_CHECK = web.AppKey("health_check", dict)
LOOP_LAG = web.AppKey("loop_lag", LoopLag)


@health.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness and readiness: the database answers (within a second) and the models are loaded."""
    database = await _database_state(request.app)
    live = request.app[LIVE]
    body = {
        "status": "ok" if database == "ok" and DEPS in request.app else "starting",
        "database": database,
        "liveCalls": live.talking,  # a call whose caller hung up is no longer live
        "finishingCalls": live.finishing,
        "capacity": request.app[CAPACITY].report(),
        "memoryMb": _resident_mb(),
        "loopLag": request.app[LOOP_LAG].report(),
    }
    body |= {name: report() for name, report in request.app.get(HEALTH, {}).items()}
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


async def _database_state(app: web.Application) -> str:
    """``ok``, or ``error: ...`` when the database refuses or has not answered within a second.

    A stalled connection may take its statement timeout to give up: the check goes on in
    the background and the next ``/healthz`` waits on it rather than piling up another.
    """
    checks = app[HEALTH_CHECK]
    check = checks.get("database")
    if check is None or check.done():
        check = checks["database"] = asyncio.create_task(_select_one(app[DATABASE]))
    done, _ = await asyncio.wait([check], timeout=HEALTH_DATABASE_SECS)
    if not done:
        return "error: no answer within a second"
    error = check.exception()
    return "ok" if error is None else f"error: {error.__class__.__name__}"


async def _select_one(database: Database) -> None:
    async with database.session() as session:
        await session.execute(text("SELECT 1"))


def _resident_mb() -> float | None:
    try:
        pages = int(open("/proc/self/statm").read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def create_app(settings: Settings) -> web.Application:
    """Build the application; models, database and workers start with it and stop with it.

    Raises:
        SettingsError: A configured folder or file does not exist.
    """
    for warning in settings.check_paths():
        logger.warning(warning)
    if warning := settings.shared_secret_warning():
        logger.warning(warning)
    app = web.Application(
        middlewares=[crm_api.database_outages, crm_api.require_api_key],
        client_max_size=1024**2,
    )
    app[SETTINGS] = settings
    app[crm_api.API_KEY] = settings.ensure_api_key()[0]
    app[LIVE] = _live_calls(app, settings)
    app[LIVE].on_idle.append(lambda: _release_memory(app))  # after a burst, RSS goes down
    app[CAPACITY] = CallCapacity.for_server(app[LIVE], settings.max_calls)
    app[OVERFLOW] = Overflows(OverflowDefaults.for_server(settings))
    app[HEALTH_CHECK] = {}
    app[LOOP_LAG] = LoopLag()
    app[ASK_CARRIER] = {}
    app.add_routes(health)
    app.add_routes(crm_api.routes)
    TwilioCarrier(TwilioSettings.for_server(settings)).mount(app)  # one line per carrier
    SipCarrier(SipCarrierSettings.for_server(settings)).mount(app)
    WebCarrier(settings.base_url).mount(app)
    app.add_routes(vapi_routes.routes)
    register_outbound(app, "vapi", vapi_outbound(settings))
    app.add_routes(web_routes.routes)
    # Other packages' /api routes, and the OpenAPI document of all of /api (crm's with them).
    app.add_routes(
        crm_api.documented(
            agent_api.api,
            web_routes.docs,
            desk_routes.api,
            desk_listen.api,
            mounted=(talk_api,),
        )
    )
    app.cleanup_ctx.append(_loop_lag)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_crm)
    app.cleanup_ctx.append(_call_dependencies)
    app.cleanup_ctx.append(_vapi)
    app.cleanup_ctx.append(_dialer)
    app.cleanup_ctx.append(_crm_workers)
    app.cleanup_ctx.append(_call_leases)
    app.on_shutdown.append(_end_live_calls)
    return app


def _live_calls(app: web.Application, settings: Settings) -> LiveCalls:
    """The live-call registry; on PostgreSQL it reaches calls other instances hold."""
    if Database.is_sqlite_url(settings.resolved_database_url):
        return LiveCalls()  # SQLite: one instance
    app[REMOTE_CALLS] = PostgresCalls(
        settings.resolved_database_url,
        instance=settings.instance_id,
        url=settings.resolved_instance_url,
    )
    app.cleanup_ctx.append(_remote_calls)
    return LiveCalls(app[REMOTE_CALLS])


async def _remote_calls(app: web.Application) -> AsyncIterator[None]:
    await app[REMOTE_CALLS].start(app[LIVE])
    yield
    await app[REMOTE_CALLS].close()


async def _loop_lag(app: web.Application) -> AsyncIterator[None]:
    app[LOOP_LAG].start()
    yield
    await app[LOOP_LAG].stop()


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    database = Database(
        settings.resolved_database_url,
        connect_timeout=settings.database_connect_timeout_secs,
        statement_timeout=settings.database_statement_timeout_secs,
    )
    await database.migrate()
    app[DATABASE] = database
    app[crm_api.STORE] = CallStore(database)
    yield
    await database.close()


async def _llm(settings: Settings, book: AssistantBook) -> LLMEndpoint:
    """The LLM endpoint; the embedded model is loaded only if an assistant runs on it."""
    llm = LLMEndpoint(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        model=settings.llm_model,
        timeout_secs=settings.llm_timeout_secs,
    )
    # Assistants VAPI carries never run on the embedded model.
    if any(
        e.assistant.provider == OUR_PIPELINE and llm.uses_embedded(e.assistant)
        for e in book.assistants.values()
    ):
        path = gguf_path(settings.local_llm_model, settings.models_dir)
        llm.embedded = await asyncio.to_thread(
            LocalModel.load, path, threads=settings.local_llm_threads
        )
        if not settings.local_llm_model:
            logger.warning(DEMO_MODEL_NOTICE)
    return llm


def _log_assistants(book: AssistantBook, models_dir: os.PathLike) -> None:
    available = [n for n, e in book.assistants.items() if not e.unavailable]
    unavailable = [n for n, e in book.assistants.items() if e.unavailable]
    logger.info(
        f"Assistants: {', '.join(available) or 'none available'} (default: {book.default_name})"
        + (
            f"; unavailable (see above for the model files to place in {models_dir}): "
            f"{', '.join(unavailable)}"
            if unavailable
            else ""
        )
    )


async def _call_dependencies(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # A broken file stops the server before any model is loaded.
    book = AssistantBook.load(settings.assistants_dir)
    speech = await asyncio.to_thread(
        load_speech_models,
        SpeechConfig(
            models_dir=settings.models_dir,
            whisper_model=settings.whisper_model,
            piper_voice=settings.piper_voice,
            stt_threads=settings.stt_threads,
            stt_workers=settings.stt_workers,
            cache_dir=settings.cache_dir,
        ),
    )
    llm = await _llm(settings, book)
    library = AssistantLibrary(settings.assistants_dir, readiness_check(speech, llm))
    _log_assistants(await library.load(), settings.models_dir)
    http = aiohttp.ClientSession()
    app[agent_api.ASSISTANTS] = library
    app[DEPS] = CallDependencies(
        database=app[DATABASE],
        assistants=library,
        speech=speech,
        llm=llm,
        http=http,
        stages=app[crm_api.CRM].policy.stages,
        policy=app[crm_api.CRM].policy,
        after_call=[app[crm_api.CRM].after_call],
        recordings=CallRecordings(app[crm_api.CRM].recordings, settings.base_url),
        spool_dir=settings.data_dir / "spool",
        instance=settings.instance_id,
        lease_secs=settings.call_lease_secs,
        desk=AgentDesk(app[DATABASE]),
    )
    interval = settings.assistants_reload_secs
    watcher = asyncio.create_task(library.watch(interval)) if interval > 0 else None
    yield
    if watcher:
        watcher.cancel()
    await http.close()
    speech.close()


async def _vapi(app: web.Application) -> AsyncIterator[None]:
    """VAPI's server messages (always on, behind the VAPI secret), and VAPI as overflow provider."""
    service = VapiService(app[DEPS], VapiTarget.for_server(app[SETTINGS]))
    app[vapi_routes.VAPI] = service
    handover = VapiHandover.for_server(app[SETTINGS], service)
    app[OVERFLOW].handover = handover  # the overflow provider, where VAPI is set up
    yield
    if handover is not None:
        await handover.close()


async def _dialer(app: web.Application) -> AsyncIterator[None]:
    settings, deps = app[SETTINGS], app[DEPS]
    await sync_campaign_files(deps.database, load_campaign_files(settings.campaigns_dir))
    dialer = Dialer.for_server(settings, deps, build_providers(app), app[CAPACITY])
    deps.on_call_status.append(dialer.settle)  # Twilio's and VAPI's calls alike
    async with dialer.running(settings.dialer_enabled):
        yield


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def crm_settings(settings: Settings) -> CrmSettings:
    """The CRM's settings from the server's (rule, scoring, stage files, webhooks, analysis LLM)."""
    llm = (
        LLMSettings(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            model=settings.analysis_model or settings.llm_model,
            timeout=settings.analysis_timeout_seconds,
        )
        if settings.llm_base_url
        else None
    )
    return CrmSettings(
        stages_file=settings.stages_file,
        scoring_file=settings.scoring_file,
        rules_dir=settings.rules_dir,
        webhooks=WebhookSettings(
            urls=_csv(settings.webhook_urls),
            secret=settings.resolved_webhook_secret(),
            events=frozenset(_csv(settings.webhook_events)) or None,
            max_attempts=settings.webhook_max_attempts,
            retry_base_seconds=settings.webhook_retry_base_seconds,
        ),
        llm=llm,
        competitors=_csv(settings.competitors),
        default_region=settings.default_region.upper(),
        retention_days=settings.retention_days,
        recordings_dir=settings.resolved_recordings_dir,
        sweep_interval=settings.crm_sweep_interval_seconds,
    )


async def _crm(app: web.Application) -> AsyncIterator[None]:
    # Before the speech models load: a broken rule or scoring file stops the start at once.
    def plans(assistant: str | None) -> object:
        return app[DEPS].assistants.analysis_plan(assistant)

    def servers(assistant: str | None) -> tuple[str, str] | None:
        entry = app[DEPS].assistants.book.assistants.get(assistant or "")
        return entry.assistant.report_server() if entry else None

    app[crm_api.CRM] = CrmService(
        app[DATABASE], crm_settings(app[SETTINGS]), plans=plans, servers=servers
    )
    yield


async def _crm_workers(app: web.Application) -> AsyncIterator[None]:
    # After the assistants load: analyses left pending by a previous run start at once.
    crm = app[crm_api.CRM]
    await crm.start()
    yield
    await crm.stop()


async def _call_leases(app: web.Application) -> AsyncIterator[None]:
    # Last: settling a call left by a dead instance runs the after-call and dialer hooks.
    deps = app[DEPS]
    leases = CallLeases(
        deps, app[LIVE], deps.instance, carriers=app[ASK_CARRIER], lease_secs=deps.lease_secs
    )
    await leases.start()
    app[CALL_LEASES] = leases
    yield
    await leases.stop()


def _release_memory(app: web.Application) -> None:
    """The last call ended: hand what the calls left behind back to the system, off the loop."""
    deps = app.get(DEPS)
    speech = deps.speech if deps is not None else None

    def release() -> None:
        if speech is not None:
            speech.release_memory()  # the Piper arenas' unused regions, then malloc's
        release_free_memory()

    asyncio.get_running_loop().run_in_executor(None, release)


async def _end_live_calls(app: web.Application) -> None:
    await app[LIVE].end_all("server-shutdown")


def _sip_line(settings: Settings) -> str:
    if not settings.sip_enabled:
        return "SIP:                  off (SIP_ENABLED=false)"
    host = settings.sip_public_address or settings.sip_host or settings.host
    port = settings.sip_port or "<a free port: GET /healthz>"
    return f"SIP:                  sip:<number>@{host}:{port}  ({settings.sip_transports})"


def _banner(settings: Settings, key_created: bool) -> str:
    listen = f"http://{settings.host}:{settings.port}"
    key_line = (
        f"API key (new, saved in {settings.data_dir / 'api_key'}): {settings.api_key}"
        if key_created
        else f"API key: from API_KEY or {settings.data_dir / 'api_key'}"
    )
    return (
        f"\n  Phone agent listening on {listen}\n"
        f"  Dashboard:            {listen}/  (sign in with the API key; Assistants → Talk)\n"
        f"  Twilio voice webhook: {settings.base_url}/twilio/voice  (media: "
        f"{settings.stream_url})\n"
        f"  VAPI server URL:      {settings.base_url}/vapi/events  (secret: "
        f"VAPI_SECRET or {settings.data_dir / 'vapi_secret'})\n"
        f"  {_sip_line(settings)}\n"
        f"  {key_line}\n"
        f'  Place a test call:  .venv/bin/phoneagent-call --server {listen} --say "Hi, '
        f"I'd like to book a visit.\"\n"
        f"  Read the calls:     curl -H 'Authorization: Bearer <API key>' {listen}/api/calls\n"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the server: ``phoneagent-server [--host H] [--port P]`` (environment for the rest)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", help="interface to bind (HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (PORT, default 8080)")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    configure_logging(settings.log_level)
    limit_malloc_arenas(settings.malloc_arena_max)  # before any worker thread allocates
    _, created = settings.ensure_api_key()
    try:
        app = create_app(settings)
        print(_banner(settings, created), flush=True)
        web.run_app(app, host=settings.host, port=settings.port, print=None, shutdown_timeout=15)
    except (
        AssistantFileError,
        ModelNotFoundError,
        ModelFileError,
        VapiSettingError,
        CampaignFileError,
        RuleFileError,
        StageError,
        ScoringError,
        SettingsError,
        SipSettingError,
        SipStartError,
    ) as e:
        logger.error(f"Cannot start: {e}")
        sys.exit(2)


if __name__ == "__main__":
    main()
