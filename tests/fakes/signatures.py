"""How a receiver checks our Standard Webhooks signatures: with the reference library."""

from __future__ import annotations

from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def signature_problem(secret: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """Why a request is not signed with ``secret`` in the last 5 minutes; None when it is.

    A ``whsec_`` secret is taken as the library takes it (base64); any other as its bytes.
    """
    key: str | bytes = secret if secret.startswith("whsec_") else secret.encode()
    try:
        Webhook(key).verify(body, dict(headers), json_parse=False)
    except WebhookVerificationError as e:
        return str(e)
    return None
