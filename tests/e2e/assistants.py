"""Assistant files for the tool and conversation tests: one phone number per behaviour."""

from __future__ import annotations

from typing import Any

from tests.fakes.tool_server import TOOL_SECRET

TOOLS_LINE = "+15555550300"
SILENCE_LINE = "+15555550301"
SHORT_LINE = "+15555550302"
SIP_LINE = "+15555550303"
WAITING_LINE = "+15555550304"
UNAVAILABLE_LINE = "+15555550305"
BILINGUAL_LINE = "+15555550306"
QUEUE_LINE = "+15555550307"
QUEUE_HOLD_LINE = "Please hold while I find a colleague for you."
AGENT_NUMBER = "+15555550399"
AGENT_SIP = "sip:sales@pbx.example.com"

PROMPT = "You are a test assistant on the phone. Answer in one short sentence. It is now {{now}}."
GREETING = 'Hi {{ name | default: "there" }}, this is the test line.'
FILLER = "Let me check that for you."
SPANISH_PROMPT = "Responde siempre en español, de usted."


def _builtins(*names: str) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": n}} for n in names]


def test_assistants(tool_url: str) -> dict[str, dict[str, Any]]:
    """Assistant JSON by name; ``tool_url`` is the fake webhook-tool server."""
    check_stock = {
        "type": "function",
        "function": {
            "name": "check_stock",
            "description": "Check whether an item is in stock.",
            "parameters": {
                "type": "object",
                "properties": {"item": {"type": "string"}},
                "required": ["item"],
            },
        },
        "server": {"url": tool_url, "secret": TOOL_SECRET, "timeoutSeconds": 3},
        "messages": [
            {"type": "request-response-delayed", "content": FILLER, "timingMilliseconds": 800}
        ],
    }
    tools = [
        *_builtins(
            "lookup_lead",
            "update_lead",
            "book_appointment",
            "schedule_callback",
            "add_note",
            "set_stage",
            "opt_out",
        ),
        {
            "type": "transferCall",
            "destinations": [
                {
                    "type": "number",
                    "number": AGENT_NUMBER,
                    "message": "Connecting you to a colleague now.",
                }
            ],
        },
        {"type": "endCall"},
        {"type": "dtmf"},
        check_stock,
    ]
    base = {
        "firstMessage": GREETING,
        "model": {"messages": [{"role": "system", "content": PROMPT}], "maxTokens": 60},
        "endCallMessage": "Goodbye from the test line.",
        "variableValues": {"timezone": "America/New_York"},
    }
    return {
        "tools-test": {
            **base,
            "name": "tools-test",
            "model": {**base["model"], "tools": tools},
            "endCallPhrases": ["talk to you soon"],
            "silenceTimeoutSeconds": 60,
            "phoneNumbers": [TOOLS_LINE],
        },
        "silence-test": {
            **base,
            "name": "silence-test",
            "firstMessage": "Hello.",
            "silenceTimeoutSeconds": 5,
            "messagePlan": {"idleMessages": ["Hello, are you still there?"]},
            "phoneNumbers": [SILENCE_LINE],
        },
        "waiting-test": {
            **base,
            "name": "waiting-test",
            "firstMessageMode": "assistant-waits-for-user",
            "silenceTimeoutSeconds": 5,
            "messagePlan": {"idleMessages": ["Hello? Is anyone there?"]},
            "phoneNumbers": [WAITING_LINE],
        },
        "short-test": {
            **base,
            "name": "short-test",
            "firstMessage": "Hello.",
            "maxDurationSeconds": 6,
            "endCallMessage": "Time is up, goodbye.",
            "phoneNumbers": [SHORT_LINE],
        },
        "unavailable-test": {
            **base,
            "name": "unavailable-test",
            "firstMessage": "Hola.",
            "transcriber": {"model": "whisper-small", "language": "es"},
            "phoneNumbers": [UNAVAILABLE_LINE],
        },
        "bilingual-test": {
            **base,
            "name": "bilingual-test",
            "transcriber": {"language": "multi", "languages": ["en", "es"]},
            "languageOverrides": {
                "es": {
                    "firstMessage": "Hola, le habla la línea de prueba.",
                    "systemPromptAddition": SPANISH_PROMPT,
                }
            },
            "phoneNumbers": [BILINGUAL_LINE],
        },
        "queue-test": {
            **base,
            "name": "queue-test",
            "model": {
                **base["model"],
                "tools": [
                    *_builtins("schedule_callback"),
                    {
                        "type": "transferCall",
                        "destinations": [
                            {
                                "type": "queue",
                                "queue": "sales",
                                "timeoutSeconds": 5,
                                "message": QUEUE_HOLD_LINE,
                                "description": "sales",
                            },
                            {
                                "type": "queue",
                                "queue": "support",
                                "mode": "blind",
                                "description": "support",
                            },
                        ],
                    },
                ],
            },
            "silenceTimeoutSeconds": 60,
            "phoneNumbers": [QUEUE_LINE],
        },
        "sip-test": {
            **base,
            "name": "sip-test",
            "model": {
                **base["model"],
                "tools": [
                    {"type": "transferCall", "destinations": [{"type": "sip", "sipUri": AGENT_SIP}]}
                ],
            },
            "phoneNumbers": [SIP_LINE],
        },
    }
