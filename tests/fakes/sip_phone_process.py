"""The test phone's own process: PJSIP (pjsua2) on 127.0.0.1, JSON commands in, JSON events out.

Started by :class:`tests.fakes.sip_phone.SipPhone`; see that module for the protocol.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import wave
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

_STATES = {1: "CALLING", 2: "INCOMING", 3: "EARLY", 4: "CONNECTING", 5: "CONFIRMED"}
_STATES[6] = "DISCONNECTED"
_LIVE_MEDIA = (
    pj.PJSUA_CALL_MEDIA_ACTIVE,
    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD,
    pj.PJSUA_CALL_MEDIA_LOCAL_HOLD,
)


_EMIT = threading.Lock()  # events come from the SIP thread and PJSIP's media clock
LOUD_RMS = 200.0  # a frame of heard audio louder than this is sound
QUIET_FRAMES = 15  # sound stops after 300 ms below it


def emit(event: str, **fields: Any) -> None:
    """One event line on stdout."""
    with _EMIT:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


def pcm_format() -> pj.MediaFormatAudio:
    """8 kHz 16-bit mono, 20 ms: the bridge's own format."""
    fmt = pj.MediaFormatAudio()
    fmt.type, fmt.id = pj.PJMEDIA_TYPE_AUDIO, pj.PJMEDIA_FORMAT_PCM
    fmt.clockRate, fmt.channelCount, fmt.bitsPerSample = 8000, 1, 16
    fmt.frameTimeUsec = 20000
    fmt.avgBps = fmt.maxBps = 128000
    return fmt


class Ear(pj.AudioMediaPort):
    """What one call hears, kept frame by frame, with ``sound`` events when it starts and stops.

    Frames are counted on PJSIP's media clock, so a ``playing`` event's ``frame``
    and the heard audio share one timeline (barge-in cut-off is measured on it).
    """

    def __init__(self, index: int):
        super().__init__()
        self.index = index
        self.frames: list[bytes] = []
        self.loud = False
        self.quiet = 0

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802
        if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size == 0:
            return
        pcm = bytes(tuple(frame.buf))
        self.frames.append(pcm)
        samples = [
            int.from_bytes(pcm[i : i + 2], "little", signed=True) for i in range(0, len(pcm), 2)
        ]
        loud = (sum(x * x for x in samples) / max(len(samples), 1)) ** 0.5 > LOUD_RMS
        if loud:
            self.quiet = 0
            if not self.loud:
                self.loud = True
                emit("sound", call=self.index, on=True, frame=len(self.frames))
        elif self.loud:
            self.quiet += 1
            if self.quiet >= QUIET_FRAMES:
                self.loud = False
                emit("sound", call=self.index, on=False, frame=len(self.frames) - self.quiet)

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:  # noqa: N802
        frame.type = pj.PJMEDIA_FRAME_TYPE_NONE

    def save(self, path: str) -> None:
        with wave.open(path, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"".join(self.frames))


class Player(pj.AudioMediaPlayer):
    """Plays a WAV into one call, once, and says when it is done."""

    def __init__(self, index: int, path: str):
        super().__init__()
        self.index = index
        self.createPlayer(path, pj.PJMEDIA_FILE_NO_LOOP)

    def onEof2(self) -> None:  # noqa: N802
        emit("played", call=self.index)


def op(code: int = 0, flag: int = 0) -> pj.CallOpParam:
    """A CallOpParam with a status code and call flags."""
    param = pj.CallOpParam(True)
    if code:
        param.statusCode = code
    param.opt.flag = flag
    return param


class Phone:
    """The phone's calls and media: a tone it plays, a recorder of what it hears."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.calls: list[PhoneCall] = []
        self.ears: dict[int, Ear] = {}
        self.players: list[Player] = []
        self.tone: pj.ToneGenerator | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.recording = ""

    def media_of(self, call: PhoneCall) -> pj.AudioMedia | None:
        info = call.getInfo()  # keep it: info.media points into it
        for media in info.media:
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status in _LIVE_MEDIA:
                return call.getAudioMedia(media.index)
        return None

    def connect(self, call: PhoneCall) -> None:
        audio = self.media_of(call)
        if audio is None:
            return
        if self.args.tone:
            self._tone().startTransmit(audio)
        if self.recorder is not None:
            audio.startTransmit(self.recorder)
        if call.index not in self.ears:
            ear = self.ears[call.index] = Ear(call.index)
            ear.createPort(f"ear{call.index}", pcm_format())
            if self.args.greeting:
                self.play(call, self.args.greeting)
        audio.startTransmit(self.ears[call.index])

    def play(self, call: PhoneCall, path: str) -> None:
        audio = self.media_of(call)
        if audio is None:
            raise RuntimeError("the call has no audio")
        player = Player(call.index, path)
        self.players.append(player)  # kept: destroying a port the bridge still reads crashes
        ear = self.ears.get(call.index)
        emit("playing", call=call.index, frame=len(ear.frames) if ear else 0)
        player.startTransmit(audio)

    def _tone(self) -> pj.ToneGenerator:
        if self.tone is None:
            self.tone = pj.ToneGenerator()
            self.tone.createToneGenerator(8000, 1)
            desc = pj.ToneDesc()
            desc.freq1, desc.freq2, desc.on_msec, desc.off_msec = self.args.tone, 0, 10000, 0
            tones = pj.ToneDescVector()
            tones.append(desc)
            self.tone.play(tones, True)
        return self.tone

    def record(self, path: str) -> None:
        self.recording = path
        self.recorder = pj.AudioMediaRecorder()
        self.recorder.createRecorder(path)
        for call in self.calls:
            audio = self.media_of(call) if call.isActive() else None
            if audio is not None:
                audio.startTransmit(self.recorder)

    def stop_record(self, endpoint: pj.Endpoint) -> None:
        recorder, self.recorder = self.recorder, None
        del recorder  # closing the recorder writes the WAV header...
        for _ in range(200):  # ...on PJSIP's clock thread, a little later (async conference)
            endpoint.libHandleEvents(10)
            try:
                with wave.open(self.recording) as wav:
                    if wav.getnframes():
                        return
            except (wave.Error, EOFError, OSError):
                pass


class PhoneCall(pj.Call):
    """A call of the phone's, reporting its states, media, digits and transfers."""

    def __init__(self, phone: Phone, account: pj.Account, call_id: int | None = None):
        if call_id is None:
            super().__init__(account)
        else:
            super().__init__(account, call_id)
        self.phone = phone
        self.index = len(phone.calls)
        phone.calls.append(self)

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        state = _STATES.get(info.state, str(info.state))
        emit("state", call=self.index, state=state, code=info.lastStatusCode, id=info.callIdString)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        emit("media", call=self.index)
        self.phone.connect(self)

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        emit("dtmf", call=self.index, digit=prm.digit)

    def onCallTransferRequest(self, prm: Any) -> None:  # noqa: N802
        emit("transfer_request", call=self.index, target=prm.dstUri)
        prm.statusCode = self.phone.args.refer_code

    def send_dtmf(self, digits: str, method: str) -> None:
        param = pj.CallSendDtmfParam()
        param.digits = digits
        info = method == "info"
        param.method = pj.PJSUA_DTMF_METHOD_SIP_INFO if info else pj.PJSUA_DTMF_METHOD_RFC2833
        self.sendDtmf(param)


class PhoneAccount(pj.Account):
    """Answers every incoming call with the configured status."""

    def __init__(self, phone: Phone):
        super().__init__()
        self.phone = phone

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        call = PhoneCall(self.phone, self, prm.callId)
        info = call.getInfo()
        emit("incoming", call=call.index, remote=info.remoteUri, local=info.localUri)
        call.answer(op(self.phone.args.answer))


def listen(endpoint: pj.Endpoint, wanted: int) -> int:
    """UDP and TCP on one port of 127.0.0.1 (a picked UDP port whose TCP twin is taken: again)."""
    for attempt in range(10):
        config = pj.TransportConfig()
        config.boundAddress = "127.0.0.1"
        config.port = wanted
        udp = endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, config)
        config.port = int(endpoint.transportGetInfo(udp).localName.rpartition(":")[2])
        try:
            endpoint.transportCreate(pj.PJSIP_TRANSPORT_TCP, config)
            return config.port
        except pj.Error:
            if wanted or attempt == 9:
                raise
            endpoint.transportClose(udp)
    raise AssertionError("unreachable")


def start_endpoint(args: argparse.Namespace) -> tuple[pj.Endpoint, int]:
    """PJSIP on 127.0.0.1 (UDP and TCP on one port), no sound card; returns it and the port."""
    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.logConfig.level = config.logConfig.consoleLevel = args.log_level
    config.medConfig.clockRate = config.medConfig.sndClockRate = 8000
    config.medConfig.noVad = True
    config.medConfig.ecTailLen = 0
    endpoint.libInit(config)
    port = listen(endpoint, args.port)
    endpoint.libStart()
    endpoint.audDevManager().setNullDev()
    return endpoint, port


def open_account(phone: Phone, port: int) -> PhoneAccount:
    """The phone's identity (and digest credentials for the calls it makes)."""
    args = phone.args
    config = pj.AccountConfig()
    config.idUri = f"sip:{args.user}@127.0.0.1:{port}"
    config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    if args.username:
        config.sipConfig.authCreds.append(
            pj.AuthCredInfo("digest", "*", args.username, 0, args.password)
        )
    account = PhoneAccount(phone)
    account.create(config, True)
    return account


def handlers(phone: Phone, account: PhoneAccount, endpoint: pj.Endpoint) -> dict[str, Callable]:
    """What each command does."""

    def current(command: dict) -> PhoneCall:
        return phone.calls[command.get("call", -1)]

    return {
        "call": lambda c: PhoneCall(phone, account).makeCall(c["uri"], op()),
        "answer": lambda c: current(c).answer(op(c.get("code", 200))),
        "hangup": lambda c: current(c).hangup(op(c.get("code", 0))),
        "dtmf": lambda c: current(c).send_dtmf(c["digits"], c.get("method", "rfc2833")),
        "hold": lambda c: current(c).setHold(op()),
        "unhold": lambda c: current(c).reinvite(op(flag=pj.PJSUA_CALL_UNHOLD)),
        "play": lambda c: phone.play(current(c), c["path"]),
        "greeting": lambda c: setattr(phone.args, "greeting", c["path"]),
        "ear_save": lambda c: phone.ears[c.get("call", -1) % len(phone.calls)].save(c["path"]),
        "record": lambda c: phone.record(c["path"]),
        "stop_record": lambda c: phone.stop_record(endpoint),
    }


def serve(endpoint: pj.Endpoint, actions: dict[str, Callable]) -> None:
    """Poll PJSIP and run commands from stdin until ``quit`` or end of input."""
    commands: queue.SimpleQueue[dict | None] = queue.SimpleQueue()

    def read_stdin() -> None:
        for line in sys.stdin:
            if line.strip():
                commands.put(json.loads(line))
        commands.put(None)

    threading.Thread(target=read_stdin, daemon=True).start()
    while True:
        endpoint.libHandleEvents(10)
        try:
            command = commands.get_nowait()
        except queue.Empty:
            continue
        if command is None or command["cmd"] == "quit":
            return
        try:
            actions[command["cmd"]](command)
            emit("done", cmd=command["cmd"])
        except Exception as e:
            emit("error", cmd=command["cmd"], error=str(e))


def main() -> None:
    """Run the phone until told to quit."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="phone")
    parser.add_argument("--answer", type=int, default=200)
    parser.add_argument("--refer-code", type=int, default=202)
    parser.add_argument("--tone", type=int, default=0)
    parser.add_argument("--greeting", default="", help="a WAV played on each call once answered")
    parser.add_argument("--username", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--log-level", type=int, default=0)
    args = parser.parse_args()
    phone = Phone(args)
    endpoint, port = start_endpoint(args)
    account = open_account(phone, port)
    emit("ready", port=port)
    serve(endpoint, handlers(phone, account, endpoint))
    sys.stdout.flush()
    os._exit(0)  # a test phone need not tear PJSIP down politely


if __name__ == "__main__":
    main()
