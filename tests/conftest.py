"""Shared fixtures: databases (SQLite and PostgreSQL), the fake LLM, and real server processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from crm.db import Database
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.tool_server import FakeToolServer
from tests.fakes.twilio_rest import FakeTwilio
from tests.outage import Outage

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TWILIO_AUTH_TOKEN = "test-auth-token-0123456789abcdef"


# Databases


async def _create_postgres_database() -> str:
    """A fresh PostgreSQL database for this test run; returns its URL."""
    name = f"phoneagent_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    except (OSError, asyncpg.PostgresError) as e:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({e}); database tests run on "
            "SQLite and PostgreSQL. Start it or set TEST_POSTGRES_URL."
        )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def _drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A PostgreSQL database created for the session and dropped after it."""
    url = await _create_postgres_database()
    yield url
    await _drop_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        url = await _create_postgres_database()
    db = Database(url)
    await db.migrate()
    yield db
    await db.close()
    if request.param == "postgresql":
        await _drop_postgres_database(url)


@pytest.fixture
async def outage(database: Database) -> AsyncIterator[Outage]:
    """Control over an outage of ``database`` (PostgreSQL through a proxy, SQLite by a lock)."""
    control = await Outage.around(database.url)
    yield control
    await control.close()


# The fake LLM


@pytest.fixture(scope="session")
async def fake_llm() -> AsyncIterator[FakeOpenAI]:
    """The scripted OpenAI-compatible server every test server talks to."""
    server = await FakeOpenAI().start()
    yield server
    await server.stop()


@pytest.fixture
def llm(fake_llm: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The fake LLM with empty scripts and no recorded requests for this test."""
    fake_llm.reset()
    yield fake_llm
    fake_llm.script.clear()
    fake_llm.json_script.clear()


# Real server processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """A server started the way a user starts it, on a free port."""

    url: str
    api_key: str
    auth_token: str
    data_dir: Path
    log: Path
    process: subprocess.Popen
    database_url: str = ""

    async def get_json(self, path: str) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as http:
            async with http.get(
                self.url + path, headers={"Authorization": f"Bearer {self.api_key}"}
            ) as response:
                return response.status, await response.json()

    async def call(self, call_id: str, *, ended: bool = True, timeout: float = 20.0) -> dict:
        """A call from the API, waiting (when ``ended``) until the server finalized it."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = await self.get_json(f"/api/calls/{call_id}")
            assert status == 200, body
            if not ended or body.get("endedAt") or time.monotonic() > deadline:
                return body
            await asyncio.sleep(0.2)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# The checkout's example folders, which test servers (run from a temporary folder) read
# unless a test sets its own; a test that sets one to None leaves it to the working directory.
CHECKOUT_FOLDERS = {
    "ASSISTANTS_DIR": str(ROOT / "assistants"),
    "RULES_DIR": str(ROOT / "rules"),
    "SCORING_FILE": str(ROOT / "scoring" / "default.json"),
    "CAMPAIGNS_DIR": str(ROOT / "campaigns"),
}


async def start_server(tmp: Path, **env: str | None) -> ServerProcess:
    """Start ``server.py`` in ``tmp`` with the given environment; wait until /healthz says ok.

    A variable given as None is removed from the environment.
    """
    port = free_port()
    data_dir = tmp / f"data-{port}"
    log = tmp / f"server-{port}.log"
    environment = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATA_DIR": str(data_dir),
        "API_KEY": "test-api-key",
        "LOG_LEVEL": "DEBUG",
        **CHECKOUT_FOLDERS,
        "SIP_PORT": "0",  # a free one (GET /healthz says which): never a fixed port in tests
        **env,
    }
    environment = {k: v for k, v in environment.items() if v is not None}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py")],
        cwd=tmp,
        env=environment,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    server = ServerProcess(
        url=f"http://127.0.0.1:{port}",
        api_key="test-api-key",
        auth_token=env.get("TWILIO_AUTH_TOKEN") or "",
        data_dir=data_dir,
        log=log,
        process=process,
        database_url=env.get("DATABASE_URL") or "",
    )
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {process.returncode}:\n{server.logs()[-3000:]}"
                )
            try:
                async with http.get(server.url + "/healthz") as response:
                    if response.status == 200:
                        return server
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    server.stop()
    raise RuntimeError(f"server did not become healthy:\n{server.logs()[-3000:]}")


async def start_scripted_server(
    tmp: Path, llm: FakeOpenAI, *, database_url: str = "", **env: str | None
) -> ServerProcess:
    """:func:`start_server` answering with the scripted LLM, on ``database_url`` (default: a
    SQLite file in ``tmp``)."""
    return await start_server(
        tmp,
        DATABASE_URL=database_url or f"sqlite:///{tmp / 'calls.db'}",
        LLM_BASE_URL=llm.url,
        LLM_API_KEY="test",
        LLM_MODEL="fake-model",
        **env,
    )


@pytest.fixture(scope="session")
async def server(fake_llm: FakeOpenAI, tmp_path_factory) -> AsyncIterator[ServerProcess]:
    """The real server on SQLite, with the real speech models, signed webhooks and the fake LLM."""
    tmp = tmp_path_factory.mktemp("server")
    process = await start_scripted_server(
        tmp,
        fake_llm,
        TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        ASSISTANTS_DIR=str(ROOT / "assistants"),
    )
    yield process
    process.stop()


# Fakes of outside services for the tool tests


@pytest.fixture(scope="session")
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    """Twilio's REST API (live-call updates), on 127.0.0.1."""
    server = await FakeTwilio().start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def fake_tools() -> AsyncIterator[FakeToolServer]:
    """A webhook-tool server, on 127.0.0.1."""
    server = await FakeToolServer().start()
    yield server
    await server.stop()


@pytest.fixture
def twilio_api(fake_twilio: FakeTwilio) -> Iterator[FakeTwilio]:
    """The fake Twilio with no recorded updates, answering successfully."""
    fake_twilio.updates.clear()
    fake_twilio.fail_with = None
    yield fake_twilio
    fake_twilio.fail_with = None
    fake_twilio.live_media.clear()


@pytest.fixture
async def conferences(twilio_api: FakeTwilio) -> AsyncIterator[FakeTwilio]:
    """The fake Twilio with no conference, timeline, scenario or slow ring left from before."""
    for kept in (twilio_api.conferences, twilio_api.scenarios, twilio_api.ring_delays):
        kept.clear()
    twilio_api.timeline.clear()
    yield twilio_api
    await twilio_api.end_conferences()
    twilio_api.scenarios.clear()
    twilio_api.ring_delays.clear()


@pytest.fixture
def tool_api(fake_tools: FakeToolServer) -> Iterator[FakeToolServer]:
    """The fake tool server with an empty script and no recorded requests."""
    fake_tools.script.clear()
    fake_tools.requests.clear()
    yield fake_tools


def write_test_assistants(folder: Path, tool_url: str) -> None:
    """The assistants the tool tests call, one phone number each (see tests/e2e/assistants.py)."""
    from tests.e2e.assistants import test_assistants

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "default.json").write_text((ROOT / "assistants" / "default.json").read_text())
    for name, data in test_assistants(tool_url).items():
        (folder / f"{name}.json").write_text(json.dumps(data, indent=2))


@pytest.fixture(scope="session")
async def tools_server(
    fake_llm: FakeOpenAI, fake_twilio: FakeTwilio, fake_tools: FakeToolServer, tmp_path_factory
) -> AsyncIterator[ServerProcess]:
    """A real server whose assistants have tools, wired to the fake LLM, Twilio and tool server."""
    tmp = tmp_path_factory.mktemp("tools-server")
    write_test_assistants(tmp / "assistants", fake_tools.url)
    process = await start_scripted_server(
        tmp,
        fake_llm,
        LLM_TIMEOUT_SECS="2",
        TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_API_BASE_URL=fake_twilio.url,
        ASSISTANTS_DIR=str(tmp / "assistants"),
    )
    yield process
    process.stop()
