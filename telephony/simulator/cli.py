"""``phoneagent-call``: place a simulated Twilio call to a running server and print how it went.

It reads its defaults (TWILIO_AUTH_TOKEN, PUBLIC_URL, API_KEY, DATA_DIR, HOST, PORT) as the
server does: from the environment, then from ``.env`` in the working directory.

``--mic`` instead talks to an assistant from this terminal's sound card (the browser's
Talk, without a browser).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import aiohttp
from pydantic import ValidationError

from config import Settings, configure_logging
from telephony.simulator import CallSimulator, SimulatorError
from telephony.simulator.caller_audio import (
    CallerAudioError,
    caller_voice,
    speech_ulaw,
    wav_ulaw,
    write_stereo_wav,
)
from telephony.web.terminal import NoSoundCard, talk

DEFAULT_LINES = {
    "en": "Hi, I would like to book an appointment for next Tuesday.",
    "es": "Hola, estamos buscando algo para comprar este año.",
}


def _api_key(given: str, settings: Settings) -> str:
    if given or settings.api_key:
        return given or settings.api_key
    stored = settings.data_dir / "api_key"
    return stored.read_text().strip() if stored.exists() else ""


def _settings() -> Settings:
    """The server's settings, read the same way (environment, then ``.env`` in this folder)."""
    try:
        return Settings()
    except ValidationError as e:
        print(f"error: invalid setting in the environment or .env: {e}", file=sys.stderr)
        sys.exit(2)


def _local(host: str) -> str:
    """Where to reach a server listening on ``host`` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


async def _print_transcript(server: str, api_key: str, call_id: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession() as http:
        for _ in range(20):  # the server finalizes the call just after hang-up
            async with http.get(f"{server}/api/calls/{call_id}", headers=headers) as response:
                if response.status != 200:
                    print(f"  (could not read the call from the API: HTTP {response.status})")
                    return
                call = await response.json()
            if call.get("endedAt"):
                break
            await asyncio.sleep(0.25)
    print(f"\nTranscript stored by the server (call {call_id}, {call.get('endReason')}):")
    for line in call.get("transcript", []):
        cut = " [interrupted]" if line.get("interrupted") else ""
        print(f"  {line['role']:>9}: {line['text']}{cut}")
    latency = call.get("latency") or {}
    if latency:
        print(
            "Server-side latency: greeting {greeting_ms} ms; "
            "voice-to-voice p50 {voice_to_voice_p50_ms} ms "
            "(end of speech {end_of_speech_p50_ms}, STT {stt_p50_ms}, "
            "LLM first token {llm_ttft_p50_ms}, TTS first audio {tts_first_audio_p50_ms})".format(
                **{
                    k: latency.get(k)
                    for k in [
                        "greeting_ms",
                        "voice_to_voice_p50_ms",
                        "end_of_speech_p50_ms",
                        "stt_p50_ms",
                        "llm_ttft_p50_ms",
                        "tts_first_audio_p50_ms",
                    ]
                }
            )
        )


async def talk_from_terminal(args: argparse.Namespace) -> int:
    """``--mic``: a live call with an assistant from the sound card; returns an exit status."""
    server, api_key = args.server.rstrip("/"), _api_key(args.api_key, args.settings)
    if not api_key:
        print(
            "error: --mic needs the API key (--api-key, API_KEY or data/api_key)", file=sys.stderr
        )
        return 2
    try:
        call_id = await talk(server, api_key, args.assistant)
    except NoSoundCard as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except aiohttp.ClientError as e:
        print(f"error: cannot talk to {server}: {e}", file=sys.stderr)
        return 1
    await _print_transcript(server, api_key, call_id)
    return 0


async def run(args: argparse.Namespace) -> int:
    """Hold the conversation the arguments describe; returns an exit status."""
    if args.mic:
        return await talk_from_terminal(args)
    lines: list[tuple[str, bytes]] = []
    try:
        voice = args.voice or caller_voice(args.lang)
        lines += [(text, speech_ulaw(text, voice=voice)) for text in args.say]
        lines += [(str(path), wav_ulaw(path)) for path in args.wav]
    except CallerAudioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    server = args.server.rstrip("/")
    try:
        call = CallSimulator(
            server,
            auth_token=args.auth_token,
            public_url=args.public_url,
            from_number=args.from_number,
            to_number=args.to_number,
        )
        await call.start()
    except (aiohttp.ClientError, SimulatorError, OSError) as e:
        print(f"error: cannot place the call to {server}: {e}", file=sys.stderr)
        return 1
    print(f"Calling {server} as {args.from_number} (Twilio call {call.call_sid})")
    try:
        heard = await call.wait_for_bot(timeout=args.timeout)
        print(
            f"  bot     : greeting, {heard:.1f}s of speech, "
            f"first audio {call.greeting_ms:.0f} ms after connect"
        )
        for label, audio in lines:
            turn = await call.say(audio, label, reply_timeout=args.timeout)
            v2v = (
                f"{turn.voice_to_voice_ms:.0f} ms"
                if turn.voice_to_voice_ms is not None
                else "no reply"
            )
            print(f"  caller  : {label!r} ({turn.speech_secs:.1f}s)")
            print(f"  bot     : {turn.reply_secs:.1f}s of speech, voice-to-voice {v2v}")
    except TimeoutError as e:
        print(f"  (gave up waiting: {e})")
    finally:
        await call.hang_up()
    if args.save_audio:
        write_stereo_wav(Path(args.save_audio), *call.audio())
        print(f"Saved the call to {args.save_audio} (left: caller, right: what the caller heard)")
    api_key = _api_key(args.api_key, args.settings)
    if api_key and call.call_id:
        await _print_transcript(server, api_key, call.call_id)
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``phoneagent-call``."""
    settings = _settings()
    configure_logging(settings.log_level)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--server",
        default=f"http://{_local(settings.host)}:{settings.port}",
        help="where the server listens (default: HOST and PORT)",
    )
    parser.add_argument(
        "--say", action="append", default=[], help="a line the caller says (espeak-ng); repeat"
    )
    parser.add_argument(
        "--wav", action="append", default=[], type=Path, help="a WAV file the caller plays; repeat"
    )
    parser.add_argument(
        "--save-audio", default="call.wav", help="stereo WAV of the call ('' to skip)"
    )
    parser.add_argument(
        "--auth-token",
        default=settings.twilio_auth_token,
        help="sign webhooks with it (default: TWILIO_AUTH_TOKEN)",
    )
    parser.add_argument("--public-url", default=settings.public_url, help="the server's PUBLIC_URL")
    parser.add_argument(
        "--api-key",
        default="",
        help="read the stored transcript (default: API_KEY or DATA_DIR/api_key)",
    )
    parser.add_argument(
        "--lang",
        default="en",
        help="the caller's language (en, es, es-MX...): --say lines are spoken in it",
    )
    parser.add_argument(
        "--voice", default="", help="the espeak-ng voice of --say lines (default: by --lang)"
    )
    parser.add_argument(
        "--mic",
        action="store_true",
        help="talk to an assistant from this sound card instead (needs sounddevice, PortAudio)",
    )
    parser.add_argument("--assistant", default="default", help="who --mic talks to")
    parser.add_argument("--from", dest="from_number", default="+15555550100")
    parser.add_argument("--to", dest="to_number", default="+15555550199")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the bot")
    args = parser.parse_args(argv)
    args.settings = settings
    if not args.say and not args.wav:
        args.say = [DEFAULT_LINES.get(args.lang.split("-")[0].lower(), DEFAULT_LINES["en"])]
    if not args.say and not args.wav and not args.mic:
        args.say = ["Hi, I would like to book an appointment for next Tuesday."]
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
