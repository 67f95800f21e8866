"""VAPI's REST API: assistants and calls, with errors an admin can read."""

from __future__ import annotations

from typing import Any

import aiohttp

DEFAULT_BASE_URL = "https://api.vapi.ai"


class VapiError(RuntimeError):
    """VAPI refused a request or could not be reached; the message says which and why.

    Attributes:
        status: The HTTP status VAPI answered (None when it was not reached).
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _reason(body: Any) -> str:
    """VAPI's error body (``{"message": str | [str], "error": str}``) as one line."""
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if isinstance(message, list):
            return "; ".join(str(m) for m in message)
        if message:
            return str(message)
    return str(body)[:300] if body else "no details"


class VapiClient:
    """A small async client for the parts of VAPI's API this server uses."""

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, *, timeout: float = 15.0):
        """Create the client (the HTTP session opens on first use).

        Args:
            api_key: VAPI_API_KEY (a private key).
            base_url: VAPI_BASE_URL.
            timeout: Seconds for each request.
        """
        if not api_key:
            raise VapiError(
                "VAPI_API_KEY is not set; create a private key in VAPI's dashboard and set it"
            )
        self._key = api_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> VapiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {self._key}"}
        try:
            async with self._http.request(method, url, json=body, headers=headers) as response:
                try:
                    data = await response.json(content_type=None)
                except ValueError:
                    data = (await response.text())[:300]
                if response.status == 401:
                    raise VapiError("VAPI refused the API key (401); check VAPI_API_KEY", 401)
                if response.status >= 400:
                    raise VapiError(
                        f"VAPI {method} {path} failed ({response.status}): {_reason(data)}",
                        response.status,
                    )
                return data
        except (aiohttp.ClientError, TimeoutError) as e:
            raise VapiError(
                f"VAPI is not reachable at {self.base_url}: {e.__class__.__name__} {e}".strip()
            ) from None

    async def create_assistant(self, assistant: dict[str, Any]) -> dict[str, Any]:
        """``POST /assistant``: create an assistant; returns it (with its ``id``)."""
        return await self._request("POST", "/assistant", assistant)

    async def update_assistant(
        self, assistant_id: str, assistant: dict[str, Any]
    ) -> dict[str, Any]:
        """``PATCH /assistant/{id}``: replace an assistant's settings."""
        return await self._request("PATCH", f"/assistant/{assistant_id}", assistant)

    async def get_assistant(self, assistant_id: str) -> dict[str, Any]:
        """``GET /assistant/{id}``."""
        return await self._request("GET", f"/assistant/{assistant_id}")

    async def list_assistants(self, limit: int = 100) -> list[dict[str, Any]]:
        """``GET /assistant``: the account's assistants, newest first."""
        data = await self._request("GET", f"/assistant?limit={limit}")
        return (
            data
            if isinstance(data, list)
            else list(data.get("results", []))
            if isinstance(data, dict)
            else []
        )

    async def create_call(self, call: dict[str, Any]) -> dict[str, Any]:
        """``POST /call``: place an outbound phone call; returns the call (``id``, ``status``)."""
        return await self._request("POST", "/call", call)

    async def get_call(self, call_id: str) -> dict[str, Any]:
        """``GET /call/{id}``."""
        return await self._request("GET", f"/call/{call_id}")
