"""Assistant files: what loads, VAPI's old and new shapes, how each broken file is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.assistant_files import AssistantBook, AssistantFileError, load_assistant

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "assistants").glob("*.json"))


def write(folder: Path, name: str, data) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_loads_with_its_tools(path: Path):
    entry = load_assistant(path)
    assert entry.assistant.first_message and entry.assistant.system_prompt
    assert not entry.warnings, entry.warnings
    assert "end_call" in entry.tools


def test_examples_cover_the_seed_scenarios():
    book = AssistantBook.load(ROOT / "assistants")
    spanish = [e.assistant for e in book.assistants.values() if e.assistant.language == "es"]
    assert len(spanish) == 2
    # Empty: the language's default models, so they run on a fresh checkout (see models/README.md).
    assert all(not a.voice.voice_id and not a.transcriber.model for a in spanish)
    assert book.default_name == "default"
    assert book.for_number("+15555550101").name == "appointment-setter-en"
    assert book.for_number("+19999999999").name == "default"


def test_unknown_vapi_fields_are_kept_and_reported(tmp_path: Path):
    path = write(
        tmp_path,
        "a.json",
        {"name": "a", "backgroundSound": "office", "model": {"emotionRecognitionEnabled": True}},
    )
    entry = load_assistant(path)
    assert entry.assistant.model_extra == {"backgroundSound": "office"}
    assert entry.assistant.model.model_extra == {"emotionRecognitionEnabled": True}
    assert entry.warnings == [
        "$.backgroundSound: not used by this server (kept, ignored)",
        "$.model.emotionRecognitionEnabled: not used by this server (kept, ignored)",
    ]


def test_older_flat_vapi_fields_mean_the_same_as_the_nested_ones(tmp_path: Path):
    flat = load_assistant(
        write(
            tmp_path,
            "flat.json",
            {
                "name": "flat",
                "serverUrl": "https://hooks.example.com/vapi",
                "serverUrlSecret": "s3cret",
                "endCallFunctionEnabled": True,
                "forwardingPhoneNumber": "(415) 555-0100",
                "model": {
                    "functions": [
                        {
                            "name": "get_price",
                            "description": "Price of a plan",
                            "parameters": {
                                "type": "object",
                                "properties": {"plan": {"type": "string"}},
                            },
                        }
                    ]
                },
                "analysisPlan": {
                    "summaryPrompt": "Summarize.",
                    "structuredDataSchema": {"type": "object"},
                    "successEvaluationPrompt": "Booked?",
                },
            },
        )
    )
    nested = load_assistant(
        write(
            tmp_path,
            "nested.json",
            {
                "name": "nested",
                "server": {"url": "https://hooks.example.com/vapi", "secret": "s3cret"},
                "model": {
                    "tools": [
                        {
                            "type": "function",
                            "function": {
                                "name": "get_price",
                                "description": "Price of a plan",
                                "parameters": {
                                    "type": "object",
                                    "properties": {"plan": {"type": "string"}},
                                },
                            },
                        },
                        {"type": "endCall"},
                    ]
                },
                "analysisPlan": {
                    "summaryPlan": {"messages": [{"role": "system", "content": "Summarize."}]},
                    "structuredDataPlan": {"schema": {"type": "object"}},
                    "successEvaluationPlan": {
                        "messages": [{"role": "system", "content": "Booked?"}]
                    },
                },
            },
        )
    )
    for entry in (flat, nested):
        assert (
            entry.assistant.server.url == "https://hooks.example.com/vapi"
            and entry.assistant.server.secret == "s3cret"
        )
        assert (
            set(entry.tools) == {"get_price", "end_call"} and not entry.tools["get_price"].builtin
        )
        settings = entry.assistant.analysis_settings()
        assert (
            settings["summaryPrompt"],
            settings["structuredDataSchema"],
            settings["successEvaluationPrompt"],
        ) == (
            "Summarize.",
            {"type": "object"},
            "Booked?",
        )
        assert not entry.warnings
    assert flat.assistant.forwarding_phone_number == "+14155550100"


def test_disabled_analysis_parts_are_none(tmp_path: Path):
    entry = load_assistant(
        write(
            tmp_path,
            "a.json",
            {
                "name": "a",
                "analysisPlan": {
                    "summaryPrompt": "Summarize.",
                    "summaryPlan": {"enabled": False},
                },
            },
        )
    )
    assert entry.assistant.analysis_settings()["summaryPrompt"] is None


def test_unsupported_tool_types_are_ignored_with_a_warning(tmp_path: Path):
    entry = load_assistant(
        write(
            tmp_path,
            "a.json",
            {"name": "a", "model": {"tools": [{"type": "voicemail"}, {"type": "endCall"}]}},
        )
    )
    assert list(entry.tools) == ["end_call"]
    assert entry.warnings == [
        "$.model.tools[0]: tool type 'voicemail' is not supported here; ignored"
    ]


TOOL = {"type": "function", "function": {"name": "book_appointment"}}


def test_a_bilingual_assistant_speaks_each_language_with_its_own_lines(tmp_path: Path):
    entry = load_assistant(
        write(
            tmp_path,
            "bilingual.json",
            {
                "name": "b",
                "firstMessage": "Hi, this is Ana.",
                "endCallMessage": "Bye.",
                "model": {"messages": [{"role": "system", "content": "Be brief."}]},
                "voice": {"voiceId": "en_US-joe-medium", "speed": 1.1},
                "transcriber": {"language": "multi", "languages": ["en", "es-MX"]},
                "languageOverrides": {
                    "es": {
                        "firstMessage": "Hola, habla Ana.",
                        "systemPromptAddition": "Habla en español, de usted.",
                        "idleMessages": ["¿Sigue ahí?"],
                        "tone": "warm",
                    }
                },
            },
        )
    )
    bilingual = entry.assistant
    assert bilingual.multilingual and bilingual.language == "en", "a call starts in the first"
    assert entry.warnings == [
        "$.languageOverrides.es.tone: not used by this server (kept, ignored)"
    ]
    english, spanish = bilingual.in_language(), bilingual.in_language("es")
    assert (english.first_message, english.system_prompt) == ("Hi, this is Ana.", "Be brief.")
    assert english.voice.voice_id == "en_US-joe-medium"
    assert spanish.transcriber.language == "es-MX" and spanish.language == "es"
    assert spanish.first_message == "Hola, habla Ana." and spanish.end_call_message == "Bye."
    assert spanish.system_prompt == "Be brief.\n\nHabla en español, de usted."
    assert spanish.message_plan.idle_messages == ["¿Sigue ahí?"]
    assert (spanish.voice.voice_id, spanish.voice.speed) == ("", 1.1), "Spanish's default voice"
    assert not spanish.multilingual and bilingual.in_language("fr") == english


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{ not json", r"invalid JSON at line 1, column 3"),
        ("[1, 2]", r"\$: expected a JSON object, got list"),
        ({"firstMessage": "hi"}, r"\$\.name: Field required"),
        (
            {"name": "x", "model": {"messages": [{"role": "wizard", "content": "x"}]}},
            r"\$\.model\.messages\[0\]\.role: Input should be 'system', 'user' or 'assistant'",
        ),
        (
            {"name": "x", "model": {"temperature": 7}},
            r"\$\.model\.temperature: Input should be less than or equal to 2",
        ),
        ({"name": "x", "firstMessageMode": "sometimes"}, r"\$\.firstMessageMode: Input should be"),
        (
            {"name": "x", "silenceTimeoutSeconds": "long"},
            r"\$\.silenceTimeoutSeconds: Input should be a valid number",
        ),
        (
            {"name": "x", "phoneNumbers": ["555"]},
            r"\$\.phoneNumbers: Value error, '555' is not a possible phone number; "
            r"write numbers in E\.164",
        ),
        (
            {"name": "x", "transcriber": {"language": "spanish"}},
            r"\$\.transcriber\.language: Value error, 'spanish' is not a language tag",
        ),
        (
            {"name": "x", "transcriber": {"language": "es", "languages": ["en", "es"]}},
            r"\$\.transcriber\.languages: Value error, only used with \"language\": \"multi\"",
        ),
        (
            {"name": "x", "transcriber": {"language": "multi", "languages": ["es", "es-MX"]}},
            r"\$\.transcriber\.languages\[1\]: Value error, 'es-MX': its language is listed",
        ),
        (
            {"name": "x", "languageOverrides": {"es": {"firstMessage": "Hola"}}},
            r"\$\.languageOverrides: Value error, only used with \"transcriber\": \{\"language\"",
        ),
        (
            {"name": "x", "transcriber": {"language": "multi"}, "languageOverrides": {"fr": {}}},
            r"\$\.languageOverrides\.fr: Value error, not one of transcriber\.languages \(en, es\)",
        ),
        (
            {
                "name": "x",
                "transcriber": {"language": "multi"},
                "languageOverrides": {"es": {"firstMessage": "Hola {{ name | grita }}"}},
            },
            r"\$\.languageOverrides\.es\.firstMessage: unknown filter 'grita'",
        ),
        (
            {"name": "x", "firstMessage": "Hi {{ name | shout }}"},
            r"\$\.firstMessage: unknown filter 'shout'",
        ),
        (
            {"name": "x", "model": {"messages": [{"role": "system", "content": "Hi {{ name }"}]}},
            r"\$\.model\.messages\[0\]\.content: expected '}}', found end of file \(line 1",
        ),
        (
            {"name": "x", "endCallMessage": "{% if name %}bye"},
            r"\$\.endCallMessage: expected tag endif",
        ),
        (
            {"name": "x", "messagePlan": {"idleMessages": ["ok", "Still\n{% iff x %}there?"]}},
            r"\$\.messagePlan\.idleMessages\[1\]: unexpected tag 'iff' \(line 2, column 4\)",
        ),
        (
            {
                "name": "x",
                "model": {"tools": [{"type": "function", "function": {"name": "fly_to_moon"}}]},
            },
            r"\$\.model\.tools\[0\]\.function\.name: "
            r"'fly_to_moon' is not a built-in tool .* and has no server\.url",
        ),
        (
            {"name": "x", "model": {"tools": [TOOL, TOOL]}},
            r"\$\.model\.tools\[1\]: a second tool named 'book_appointment'",
        ),
        (
            {"name": "x", "model": {"tools": [{"type": "transferCall"}]}},
            r"\$\.model\.tools\[0\]: transfer_to_human needs a destination",
        ),
        (
            {
                "name": "x",
                "model": {
                    "tools": [
                        {"type": "transferCall", "destinations": [{"type": "sip", "sipUri": "pbx"}]}
                    ]
                },
            },
            r"\$\.model\.tools\[0\]\.destinations\[0\]: "
            r"Value error, a \"sip\" destination needs \"sipUri\"",
        ),
        (
            {
                "name": "x",
                "model": {"tools": [{"type": "transferCall", "destinations": [{"type": "queue"}]}]},
            },
            r"\$\.model\.tools\[0\]\.destinations\[0\]: "
            r"Value error, a \"queue\" destination needs \"queue\"",
        ),
        (
            {
                "name": "x",
                "model": {
                    "tools": [
                        {
                            "type": "transferCall",
                            "destinations": [{"number": "+14155550100", "mode": "warm"}],
                        }
                    ]
                },
            },
            r"\$\.model\.tools\[0\]\.destinations\[0\]: "
            r"Value error, \"mode\": \"warm\" needs a queue destination",
        ),
        (
            {"name": "x", "model": {"tools": [{"type": "function"}]}},
            r"\$\.model\.tools\[0\]: Value error, a \"function\" tool needs",
        ),
        (
            {
                "name": "x",
                "model": {
                    "tools": [
                        {
                            "type": "function",
                            "function": {"name": "f", "parameters": {"type": "array"}},
                        }
                    ]
                },
            },
            r"\$\.model\.tools\[0\]\.function\.parameters: Value error, must be a JSON schema",
        ),
        (
            {"name": "x", "server": {"url": "ftp://x"}},
            r"\$\.server\.url: Value error, must be an http",
        ),
        (
            {"name": "x", "serverUrl": "https://a.example", "server": {"url": "https://b.example"}},
            r"\$: Value error, serverUrl and server\.url disagree",
        ),
        (
            {"name": "x", "variableValues": {"timezone": "Mars/Olympus"}},
            r"\$\.variableValues\.timezone: 'Mars/Olympus' is not an IANA time zone",
        ),
    ],
)
def test_broken_files_name_file_path_and_reason(tmp_path: Path, content, expected):
    path = write(tmp_path, "broken.json", content)
    with pytest.raises(AssistantFileError, match=expected) as error:
        load_assistant(path)
    assert str(error.value).startswith(f"{path}: ")


def test_number_routing_duplicate_names_and_numbers(tmp_path: Path):
    write(tmp_path, "a.json", {"name": "sales", "phoneNumbers": ["+1 415 555 0101"]})
    write(tmp_path, "b.json", {"name": "default"})
    book = AssistantBook.load(tmp_path)
    assert book.for_number("+14155550101").name == "sales"
    assert book.for_number("+14155550102").name == "default"
    write(tmp_path, "c.json", {"name": "support", "phoneNumbers": ["+14155550101"]})
    with pytest.raises(
        AssistantFileError,
        match=r"c\.json: \$\.phoneNumbers: \+14155550101 already routes to assistant 'sales'",
    ):
        AssistantBook.load(tmp_path)
    write(tmp_path, "c.json", {"name": "sales"})
    with pytest.raises(AssistantFileError, match="already used"):
        AssistantBook.load(tmp_path)


def test_empty_or_missing_folder(tmp_path: Path):
    with pytest.raises(AssistantFileError, match="no assistant files"):
        AssistantBook.load(tmp_path)
    with pytest.raises(AssistantFileError, match="no such folder"):
        AssistantBook.load(tmp_path / "nope")


def test_the_readme_example_loads(tmp_path: Path):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Assistants") :]
    example = section[section.index("```json") + len("```json") :]
    example = example[: example.index("```")]
    entry = load_assistant(write(tmp_path, "example.json", example))
    assert not entry.warnings
    assert set(entry.tools) == {
        "lookup_lead",
        "update_lead",
        "book_appointment",
        "schedule_callback",
        "transfer_to_human",
        "check_insurance",
        "end_call",
    }
    assert (
        entry.tools["book_appointment"].delay_ms() == 1000
        and not entry.tools["check_insurance"].builtin
    )


def test_the_end_of_call_report_goes_to_the_assistants_server_unless_server_messages_omit_it():
    from agent.assistant import Assistant

    server = {"url": "https://crm.example/vapi", "secret": "s"}
    assert Assistant.model_validate({"name": "a", "server": server}).report_server() == (
        "https://crm.example/vapi",
        "s",
    )
    assert (
        Assistant.model_validate(
            {"name": "a", "server": server, "serverMessages": ["tool-calls"]}
        ).report_server()
        is None
    )
    assert Assistant.model_validate({"name": "a"}).report_server() is None


def test_backchannels_pass_unless_stop_speaking_plan_says_any_sound_stops_the_bot():
    from agent.assistant import Assistant

    def passes(plan: dict | None) -> bool:
        body = {"name": "a"} | ({"stopSpeakingPlan": plan} if plan is not None else {})
        return Assistant.model_validate(body).stop_speaking_plan.backchannels_pass

    assert passes(None) and passes({}) and passes({"numWords": 2})
    assert not passes({"numWords": 0}), "VAPI's meaning: any sound stops the bot"
