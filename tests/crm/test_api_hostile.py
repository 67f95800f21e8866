"""Hostile or broken input on /api: a 4xx with the API's JSON error, never a 500."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.crm.conftest import AUTH


async def answer(response: aiohttp.ClientResponse) -> tuple[int, dict]:
    text = await response.text()
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        problem = f"{response.status} is not the API's JSON error: {text[:300]}"
        raise AssertionError(problem) from None
    return response.status, body


def api_error(status: int, body: dict, expected: int) -> None:
    assert status == expected, body
    assert isinstance(body.get("error"), str) and isinstance(body.get("detail"), str), body


@pytest.mark.parametrize(
    "credential", ["Bearer clé-secrète", b"Bearer \xff\xfe".decode("latin-1"), "Bearer \u2603"]
)
async def test_a_non_ascii_bearer_key_is_401(client: TestClient, credential):
    response = await client.get("/api/leads", headers={"Authorization": credential})
    api_error(*await answer(response), 401)


@pytest.mark.parametrize(
    "header", [b"Authorization: Bearer \xff\xfe\x80", b"Cookie: phoneagent_session=\xff\xfe"]
)
async def test_undecodable_credential_bytes_are_401(client: TestClient, header):
    url = client.make_url("/api/leads")
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        b"GET /api/leads HTTP/1.1\r\nHost: x\r\n" + header + b"\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:300]


async def test_a_non_ascii_session_cookie_is_401(client: TestClient):
    response = await client.get("/api/leads", headers={"Cookie": "phoneagent_session=caf\u00e9"})
    assert response.status == 401


@pytest.mark.parametrize(
    "query",
    [
        "offset=9223372036854775808",
        "offset=99999999999999999999999",
        "limit=9223372036854775808",
        "from=0001-01-01T00:00:00%2B05:00",
        "to=9999-12-31T23:59:59-05:00",
        "from=0001-01-01T00:00:00Z",
        "to=9999-12-31T23:59:59.999999Z",
    ],
)
async def test_out_of_range_query_values_are_400(client: TestClient, query):
    response = await client.get(f"/api/calls?{query}", headers=AUTH)
    api_error(*await answer(response), 400)


async def test_a_huge_offset_on_the_lead_list_is_400(client: TestClient):
    response = await client.get("/api/leads?offset=9223372036854775808", headers=AUTH)
    api_error(*await answer(response), 400)


@pytest.mark.parametrize("charset", ["no-such-charset", "utf-7", "x-unknown"])
async def test_an_unknown_charset_is_400(client: TestClient, charset):
    response = await client.post(
        "/api/leads",
        data=json.dumps({"phone": "+14155550100"}).encode(),
        headers=AUTH | {"Content-Type": f"application/json; charset={charset}"},
    )
    status, body = await answer(response)
    assert status in (201, 400), body


@pytest.mark.parametrize("depth", [100, 5_000, 200_000])
async def test_deeply_nested_json_is_400(client: TestClient, depth):
    raw = '{"phone": "+14155550100", "customFields": {"a": ' + "[" * depth + "]" * depth + "}}"
    response = await client.post(
        "/api/leads", data=raw.encode(), headers=AUTH | {"Content-Type": "application/json"}
    )
    api_error(*await answer(response), 400)


async def test_nan_in_an_api_body_is_400(client: TestClient):
    raw = '{"phone": "+14155550100", "customFields": {"budget": NaN}}'
    response = await client.post(
        "/api/leads", data=raw.encode(), headers=AUTH | {"Content-Type": "application/json"}
    )
    api_error(*await answer(response), 400)
