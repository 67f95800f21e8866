"""Reading a call's recording back through the API, to compare it with what the caller heard."""

from __future__ import annotations

import io

import aiohttp
import av
import numpy as np

from telephony.simulator.call import SPEECH_ENERGY
from telephony.simulator.caller_audio import FRAME_BYTES, ulaw_energy
from tests.conftest import ServerProcess

WINDOW = 0.02  # the simulator's frame


async def recording_of(server: ServerProcess, call: dict) -> tuple[np.ndarray, float]:
    """The call's recording as (2, n) samples at 48 kHz (-1..1), and its length in seconds."""
    async with aiohttp.ClientSession() as http:
        async with http.get(
            server.url + call["recording"]["path"],
            headers={"Authorization": f"Bearer {server.api_key}"},
        ) as response:
            assert response.status == 200, await response.text()
            data = await response.read()
    with av.open(io.BytesIO(data)) as container:
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    return samples, samples.shape[1] / 48000


def speech_secs(channel: np.ndarray, rate: int = 48000) -> float:
    """Seconds of 20 ms windows loud enough to be speech (the simulator's threshold)."""
    size = int(rate * WINDOW)
    windows = channel[: len(channel) // size * size].reshape(-1, size) * 32768
    return float((np.sqrt((windows**2).mean(axis=1)) > SPEECH_ENERGY).sum() * WINDOW)


def ulaw_speech_secs(ulaw: bytes) -> float:
    """The same, of the simulator's 8 kHz mu-law timeline."""
    frames = [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
    return sum(WINDOW for frame in frames if ulaw_energy(frame) > SPEECH_ENERGY)
