"""What every /api module shares: the caller, JSON errors, typed bodies and queries, paging."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from crm import strict_json
from crm.calls import CallStore
from crm.service import CrmService
from crm.strict_json import JsonRefused

STORE = web.AppKey("call_store", CallStore)
API_KEY = web.AppKey("api_key", str)
CRM = web.AppKey("crm", CrmService)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The attribute that opens a handler to agents as well as the admin (see ``Routes.route``).
AGENTS_ALLOWED = "open_to_agents"
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An error answered as JSON: ``{"error", "detail", "fields"?}``."""

    def __init__(
        self, status: int, error: str, detail: str, fields: list[dict[str, str]] | None = None
    ):
        super().__init__(detail)
        self.status, self.error, self.detail, self.fields = status, error, detail, fields

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.error, "detail": self.detail}
        if self.fields is not None:
            body["fields"] = self.fields
        return web.json_response(body, status=self.status)


def not_found(what: str) -> ApiError:
    """404 for an unknown id."""
    return ApiError(404, "not_found", f"no such {what}")


@dataclass(frozen=True)
class Principal:
    """Who is calling /api and how they proved it.

    Parameters:
        role: ``admin`` (the API key) or ``agent`` (an agent's token: only the routes opened
            to agents, which check what the agent may see).
        via: ``bearer`` (``Authorization: Bearer``) or ``session`` (a signed-in browser's cookie).
        subject: Which person, for roles held by many (an agent's id); None for the admin.
        token: The session cookie's token (``via == "session"`` only).
        expires_at: When the session ends (``via == "session"`` only).
    """

    role: str
    via: str
    subject: str | None = None
    token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None

    @property
    def actor(self) -> str:
        """The audit log's name for a signed-in browser: ``web:admin``, ``web:agent:<id>``."""
        return ":".join(part for part in ("web", self.role, self.subject) if part)


# The authenticated caller of an /api request, set by the auth middleware.
PRINCIPAL = web.RequestKey("principal", Principal)


# Times the API takes: wide enough for any real record, far from the year 1 and 9999 edges
# where converting zones or adding a day overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)
# The deepest page anyone reads; beyond it an offset only overflows the database's integer.
MAX_OFFSET = 10**9


class ApiModel(BaseModel):
    """Base of API bodies and queries: camelCase or snake_case, no unknown keys, times in UTC."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @model_validator(mode="after")
    def _utc(self):
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, datetime) and value.tzinfo is not None:
                try:
                    value = value.astimezone(UTC)
                except OverflowError:
                    value = EARLIEST - timedelta(days=1)  # year 1 or 9999: refused below
                if not EARLIEST <= value <= LATEST:
                    raise ValueError(
                        f"{to_camel(name)}: times are between {EARLIEST.year} and {LATEST.year}"
                    )
                setattr(self, name, value)
        return self


Json = dict[str, Any]


class Out(BaseModel):
    """A response body: camelCase keys, and no key the model does not name."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Page(ApiModel):
    """``?limit=50&offset=0``."""

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


def _field_errors(error: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join(str(part) for part in e["loc"]) or "body",
            "message": e["msg"].removeprefix("Value error, "),
        }
        for e in error.errors()
    ]


def validate(model: type[M], data: Any, where: str) -> M:
    """``data`` as ``model``, or a 400 listing each field's problem."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        fields = _field_errors(e)
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        raise ApiError(400, "invalid_request", f"invalid {where}: {summary}", fields) from None


async def body(request: web.Request, model: type[M]) -> M:
    """The JSON body as ``model`` (400 on broken JSON or invalid fields)."""
    try:
        data = strict_json.loads(await request.read())
    except JsonRefused as e:
        raise ApiError(400, "invalid_json", f"the body must be a JSON object: {e}") from None
    return validate(model, data, "body")


def query(request: web.Request, model: type[M]) -> M:
    """The query string as ``model`` (400 on invalid parameters)."""
    return validate(model, dict(request.query), "query parameters")


def actor(request: web.Request) -> str:
    """Who is acting, for the audit log: ``web:admin`` for a signed-in browser, else ``api``, or
    ``api:<name>`` from an ``X-Actor`` header."""
    principal = request.get(PRINCIPAL)
    if principal is not None and principal.via == "session":
        return principal.actor
    if principal is not None and principal.role == "agent":
        return f"api:agent:{principal.subject}"
    name = "".join(c for c in request.headers.get("X-Actor", "") if c.isalnum() or c in "._-@")[:48]
    return f"api:{name}" if name else "api"


def page(data: list[Any], total: int, paging: Page) -> web.Response:
    """A page of results."""
    return web.json_response(
        {"data": data, "total": total, "limit": paging.limit, "offset": paging.offset}
    )


@dataclass
class Operation:
    """One documented endpoint."""

    method: str
    path: str
    summary: str
    tag: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_type: str = "application/json"
    response_type: str = "application/json"
    response: type[BaseModel] | None = None
    status: int | None = None
    also: tuple[int, ...] = ()
    agents: bool = False

    @property
    def success(self) -> int:
        """The status of a successful answer: ``status``, else 201 for a JSON POST, else 200."""
        if self.status is not None:
            return self.status
        return 201 if self.method == "POST" and self.response_type == "application/json" else 200


@dataclass
class Routes:
    """A module's route table, and the OpenAPI description of each route."""

    tag: str
    table: web.RouteTableDef = field(default_factory=web.RouteTableDef)
    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        body_type: str = "application/json",
        response_type: str = "application/json",
        response: type[BaseModel] | None = None,
        status: int | None = None,
        also: tuple[int, ...] = (),
        agents: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register and document a handler (its docstring's first line is the summary).

        Args:
            method: The HTTP method.
            path: The route (aiohttp's syntax; a ``{name:a|b}`` parameter is documented as an enum).
            query: The query parameters' model.
            body: The request body's model.
            body_type: The request body's media type.
            response_type: The successful answer's media type.
            response: The successful answer's model (JSON answers).
            status: The successful answer's status, when not 201 for a POST or 200 otherwise.
            also: Other successful statuses with the same answer (e.g. 200 for a dry run).
            agents: Agents may call it too (it checks what each may see); else admin only.
        """

        def register(handler: Handler) -> Handler:
            summary = (handler.__doc__ or path).strip().splitlines()[0]
            self.operations.append(
                Operation(
                    method,
                    path,
                    summary,
                    self.tag,
                    query,
                    body,
                    body_type,
                    response_type,
                    response,
                    status,
                    also,
                    agents,
                )
            )
            setattr(handler, AGENTS_ALLOWED, agents)
            self.table.route(method, path)(handler)
            return handler

        return register
