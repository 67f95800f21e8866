"""espeak-ng as a call's voice: a robotic demo voice for languages no Piper voice ships for."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from functools import lru_cache

from voice.tts import LocalTTSService, Synthesizer, heard_now

WORDS_PER_MINUTE = 175  # espeak-ng's own speaking rate, at speed 1.0
CHUNK_BYTES = 4096  # ~90 ms of espeak-ng's 22.05 kHz audio
WAV_HEADER_BYTES = 44  # espeak-ng --stdout starts with a plain 44-byte WAV header
DEMO_VOICE_NOTICE = (
    "{language!r} assistants with no voice.voiceId speak with espeak-ng ('{voice}'), a robotic "
    "demo voice: enough to try a call, not for real callers. Place a Piper voice for the language "
    "in models/ (e.g. es_ES-davefx-medium.onnx with its .onnx.json; see models/README.md) and "
    "touch the assistant file."
)


@dataclass(frozen=True)
class EspeakVoice:
    """An espeak-ng voice, by the name ``espeak-ng -v`` takes (``es``, ``es-419``)."""

    name: str

    @property
    def stem(self) -> str:
        """Its name in logs and metrics."""
        return f"espeak-ng-{self.name}"


@lru_cache(maxsize=1)
def _installed_voices() -> dict[str, str]:
    """Language tags espeak-ng speaks → the voice to pass to ``-v`` for each.

    A voice is listed under its own language and the others it covers (``es-419``
    also speaks ``es-mx``); MBROLA voices need more packages and are left out.
    """
    espeak = shutil.which("espeak-ng")
    if not espeak:
        return {}
    listing = subprocess.run([espeak, "--voices"], capture_output=True, text=True, check=False)
    best: dict[str, tuple[int, str]] = {}  # language → (priority, voice); lower comes first
    for line in listing.stdout.splitlines()[1:]:
        columns = line.split()
        if len(columns) < 5 or columns[4].startswith("mb/") or not columns[0].isdigit():
            continue
        own = columns[1].lower()
        covered = [(own, int(columns[0]))]
        covered += [(o.lower(), int(p)) for o, p in re.findall(r"\(([\w-]+) (\d+)\)", line)]
        for language, priority in covered:
            if language not in best or priority < best[language][0]:
                best[language] = (priority, own)
    return {language: voice for language, (_, voice) in best.items()}


def espeak_voice(language: str) -> EspeakVoice | None:
    """espeak-ng's voice for a language tag (``es``, ``es-MX``); None if it has none or is missing.

    The tag's own voice, else (Spanish outside Spain) Latin American ``es-419``, else
    the language's.
    """
    lang, _, region = language.lower().partition("-")
    candidates = [f"{lang}-{region}"] if region else []
    if lang == "es" and region not in ("", "es"):
        candidates.append("es-419")
    candidates.append(lang)
    installed = _installed_voices()
    return next((EspeakVoice(installed[name]) for name in candidates if name in installed), None)


class EspeakSynthesizer(Synthesizer):
    """espeak-ng run per sentence as a subprocess, its WAV output streamed as it comes.

    Closing the sentence's generator (an interruption) kills its process.
    """

    engine = "espeak-ng"

    def __init__(self, voice: EspeakVoice, speed: float = 1.0):
        """Speak with an espeak-ng voice.

        Args:
            voice: The espeak-ng voice.
            speed: Speaking rate: 1.0 is espeak-ng's own (175 words per minute).
        """
        self.name = voice.stem
        self._voice = voice
        self._words_per_minute = round(WORDS_PER_MINUTE * max(0.5, min(2.0, speed)))

    async def chunks(
        self, text: str, ahead: Callable[[], float] = heard_now
    ) -> AsyncGenerator[bytes, None]:
        """The WAV header, then the audio, as espeak-ng writes it (its own process: no queue)."""
        espeak = shutil.which("espeak-ng")
        if not espeak:
            raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
        process = await asyncio.create_subprocess_exec(
            *(espeak, "-v", self._voice.name, "-s", str(self._words_per_minute)),
            *("-b", "1", "--stdin", "--stdout"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin and process.stdout and process.stderr
        try:
            process.stdin.write(text.encode())
            await process.stdin.drain()
            process.stdin.close()
            try:
                header = await process.stdout.readexactly(WAV_HEADER_BYTES)
            except asyncio.IncompleteReadError:
                header = b""
            if not header.startswith(b"RIFF"):
                raise RuntimeError(f"no audio: {(await process.stderr.read()).decode().strip()}")
            yield header
            while chunk := await process.stdout.read(CHUNK_BYTES):
                yield chunk
            if await process.wait() != 0:
                raise RuntimeError((await process.stderr.read()).decode().strip())
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


class EspeakTTSService(LocalTTSService):
    """espeak-ng as a call's voice: the same streaming, interruption and playback marks as Piper."""

    def __init__(self, *, voice: EspeakVoice, speed: float = 1.0, **kwargs):
        """Create the service for one call (see :class:`EspeakSynthesizer`)."""
        super().__init__(synthesizer=EspeakSynthesizer(voice, speed), **kwargs)
