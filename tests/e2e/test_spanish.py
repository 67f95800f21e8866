"""Spanish out of the box: a Spanish caller qualifies with the real-estate example assistant,
and a bilingual assistant answers each caller in the language they speak."""

from __future__ import annotations

import asyncio

import pytest

from crm.db import Database
from crm.leads import LeadStore
from crm.models import Lead
from telephony.simulator import CallSimulator
from telephony.simulator.caller_audio import caller_voice, speech_ulaw
from tests.conftest import TWILIO_AUTH_TOKEN, ServerProcess
from tests.e2e.assistants import BILINGUAL_LINE, SPANISH_PROMPT
from tests.e2e.test_crm_call import analysed
from tests.fakes.openai_server import FakeOpenAI, JsonReply, Reply, ToolCall

pytestmark = pytest.mark.slow

REAL_ESTATE_LINE = "+34910000001"  # assistants/inmobiliaria-es.json
# Words the packaged Whisper base hears reliably from espeak-ng's Spanish at 8 kHz.
LINE = "Sí, estamos buscando algo para comprar este año."
REPLY = "Perfecto. ¿Qué zona prefiere, la playa o el campo de golf?"
ENGLISH_LINE = "Yes, we are looking to buy something this year."
GREETINGS = {"en": "Hi there, this is the test line.", "es": "Hola, le habla la línea de prueba."}


async def spanish_lead(server: ServerProcess, phone: str) -> None:
    """A lead the CRM knows speaks Spanish (an earlier call, an import)."""
    database = Database(server.database_url)
    try:
        lead = await LeadStore(database).get_or_create(phone, source="test")
        async with database.session() as session:
            (await session.get(Lead, lead.id)).language = "es"
    finally:
        await database.close()


async def test_a_spanish_caller_qualifies_with_the_real_estate_assistant(
    server: ServerProcess, llm: FakeOpenAI
):
    # Both Spanish examples run on what pip installed: Whisper base, espeak-ng's voice.
    _, listed = await server.get_json("/api/assistants")
    spanish = {a["name"]: a for a in listed["data"] if a["language"].startswith("es")}
    assert set(spanish) == {"inmobiliaria-es", "telecom-es"}
    for name, entry in spanish.items():
        assert entry["available"], (name, entry["unavailableReason"])
        assert any("robotic demo voice" in w for w in entry["warnings"]), entry["warnings"]
    assert "speak with espeak-ng ('es'), a robotic demo voice" in server.logs()

    llm.script += [
        Reply("", tool_calls=[ToolCall("update_lead", {"timeline": "este año"})]),
        Reply("", tool_calls=[ToolCall("set_stage", {"stage": "qualified"})]),
        Reply(REPLY),
    ]
    async with CallSimulator(
        server.url,
        auth_token=TWILIO_AUTH_TOKEN,
        from_number="+34612000111",
        to_number=REAL_ESTATE_LINE,
    ) as call:
        # The post-call LLM fails, so the deterministic fallback has to read the Spanish.
        llm.json_script += [JsonReply(status=500, match=call.call_id) for _ in range(2)]
        while call._playback.speech_frames < 50:  # a second of Sofía's greeting, then talk over it
            await asyncio.sleep(0.02)
        turn = await call.say(speech_ulaw(LINE, voice=caller_voice("es")), LINE)
    assert call.clears >= 1, "talking over the espeak-ng greeting cut it off"
    assert turn.voice_to_voice_ms is not None and turn.reply_secs > 1.0, "a spoken reply"

    body = await analysed(server, call.call_id)
    transcript = body["transcript"]
    greeting = transcript[0]
    assert greeting["role"] == "assistant" and greeting["interrupted"]
    assert greeting["text"].startswith("¡Hola"), "kept up to what the caller heard"
    caller = " ".join(line["text"] for line in transcript if line["role"] == "user").lower()
    assert "buscando algo para comprar" in caller, caller
    assert any("buscando algo para comprar" in m.lower() for m in llm.user_messages())
    assert [line["text"] for line in transcript if line["role"] == "assistant"][1:] == [REPLY]
    assert "Sofía" in next(m["content"] for m in llm.requests[0]["messages"])

    assert body["analysisStatus"] == "fallback", body
    analysis = body["analysis"]
    assert analysis["source"] == "fallback" and analysis["language"] == "es"
    assert body["summary"].startswith("Llamada entrante"), body["summary"]
    assert (body["intent"], body["outcome"], body["sentimentLabel"]) == (
        "buy",
        "interested",
        "positive",
    )
    components = analysis["score"]["explanation"]["components"]
    assert components["positive_answers"]["points"] > 0 and body["leadScore"] > 0
    _, lead = await server.get_json(f"/api/leads/{body['leadId']}")
    assert (lead["stage"], lead["timeline"], lead["language"]) == ("qualified", "este año", "es")


async def test_a_bilingual_assistant_answers_each_caller_in_their_language(
    tools_server: ServerProcess, llm: FakeOpenAI
):
    """transcriber.language "multi": the caller's first words tell the language of the call.

    A new caller speaking Spanish is greeted in the assistant's first language (English)
    and answered in Spanish. A caller whose lead is Spanish is greeted in Spanish, answers
    in English and is answered in English. Each call and lead keeps the language heard.
    """
    english_caller = "+15555550118"
    await spanish_lead(tools_server, english_caller)
    calls = [
        ("es", "+34612000222", LINE, "Claro. ¿Qué zona le interesa?", "espeak-ng-es"),
        ("en", english_caller, ENGLISH_LINE, "Sure. Which area do you like?", "en_US-joe-medium"),
    ]
    for language, phone, line, answer, voice in calls:
        llm.requests.clear()
        llm.script.append(Reply(answer))
        async with CallSimulator(
            tools_server.url,
            auth_token=tools_server.auth_token,
            from_number=phone,
            to_number=BILINGUAL_LINE,
        ) as call:
            await call.wait_for_bot()
            said = speech_ulaw(line, voice=caller_voice(language))
            turn = await call.say(said, language)
        assert turn.voice_to_voice_ms is not None, f"the {language} caller got an answer"
        body = await tools_server.call(call.call_id)
        heard = [line["text"] for line in body["transcript"] if line["role"] == "assistant"]
        greeting = GREETINGS["en" if language == "es" else "es"]
        assert heard == [greeting, answer], "greeted in the lead's language, else the first one"
        said = [line["text"] for line in body["transcript"] if line["role"] == "user"]
        # Once; in two lines when the VAD heard a pause mid-sentence and Whisper heard the
        # two parts differently together (not a continuation of the first).
        assert said and len(said) <= 2 and len(set(said)) == len(said), said
        prompt = llm.requests[0]["messages"][0]["content"]
        assert (SPANISH_PROMPT in prompt) == (language == "es"), "the LLM answers in the language"
        _, lead = await tools_server.get_json(f"/api/leads/{body['leadId']}")
        assert (body["language"], lead["language"]) == (language, language)
        logs = tools_server.logs()
        assert f"call {call.call_id}: the caller speaks {language}" in logs
        assert f"call {call.call_id}: going on in {language}, with {voice}" in logs
