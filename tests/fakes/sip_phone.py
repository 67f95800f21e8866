"""A SIP phone for tests: PJSIP (pjsua2) in its own process, on 127.0.0.1, driven by JSON lines.

A real user agent (PJSIP's own call, media and REFER handling), so tests of our
SIP engine talk to an independent implementation of the protocol with real RTP.
It plays a tone, records what it hears to a WAV, sends DTMF (RFC 4733 or SIP
INFO), answers or refuses calls, follows REFERs, holds, and hangs up.

Run as ``python -m tests.fakes.sip_phone --answer 200``: commands on stdin, one
JSON object a line (``{"cmd": "call", "uri": "sip:..."}``), events on stdout
(``{"event": "state", "call": 0, "state": "CONFIRMED", "code": 200}``). The
asyncio side, :class:`SipPhone`, starts it and waits for its events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import sys
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STATES = {
    0: "NULL",
    1: "CALLING",
    2: "INCOMING",
    3: "EARLY",
    4: "CONNECTING",
    5: "CONFIRMED",
    6: "DISCONNECTED",
}


# The phone process


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def _phone_main(args: argparse.Namespace) -> None:  # noqa: C901 (one small program)
    import pjsua2 as pj

    class Phone:
        def __init__(self) -> None:
            self.calls: list[PhoneCall] = []
            self.tone: pj.ToneGenerator | None = None
            self.recorder: pj.AudioMediaRecorder | None = None
            self.freq = args.tone
            self.recording = ""

        def media_of(self, call: PhoneCall) -> pj.AudioMedia | None:
            info = call.getInfo()
            for media in info.media:
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status in (
                    pj.PJSUA_CALL_MEDIA_ACTIVE,
                    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD,
                    pj.PJSUA_CALL_MEDIA_LOCAL_HOLD,
                ):
                    return call.getAudioMedia(media.index)
            return None

        def connect(self, call: PhoneCall) -> None:
            audio = self.media_of(call)
            if audio is None:
                return
            if self.freq:
                self.play_tone(self.freq)
                self.tone.startTransmit(audio)
            if self.recorder is not None:
                audio.startTransmit(self.recorder)

        def play_tone(self, freq: int) -> None:
            if self.tone is None:
                self.tone = pj.ToneGenerator()
                self.tone.createToneGenerator(8000, 1)
                desc = pj.ToneDesc()
                desc.freq1, desc.freq2, desc.on_msec, desc.off_msec = freq, 0, 10000, 0
                desc.volume = 0
                tones = pj.ToneDescVector()
                tones.append(desc)
                self.tone.play(tones, True)

    phone = Phone()

    class PhoneCall(pj.Call):
        def __init__(self, account: pj.Account, call_id: int | None = None):
            if call_id is None:
                super().__init__(account)
            else:
                super().__init__(account, call_id)
            self.index = len(phone.calls)
            phone.calls.append(self)

        def onCallState(self, prm: Any) -> None:  # noqa: N802
            info = self.getInfo()
            _emit(
                "state",
                call=self.index,
                state=_STATES.get(info.state, str(info.state)),
                code=info.lastStatusCode,
                reason=info.lastReason,
            )

        def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
            info = self.getInfo()
            statuses = [m.status for m in info.media if m.type == pj.PJMEDIA_TYPE_AUDIO]
            _emit("media", call=self.index, status=statuses)
            phone.connect(self)

        def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
            _emit("dtmf", call=self.index, digit=prm.digit)

        def onCallTransferRequest(self, prm: Any) -> None:  # noqa: N802
            _emit("transfer_request", call=self.index, target=prm.dstUri)
            prm.statusCode = args.refer_code

        def onCallTransferStatus(self, prm: Any) -> None:  # noqa: N802
            _emit("transfer_status", call=self.index, code=prm.statusCode, final=prm.finalNotify)

    class PhoneAccount(pj.Account):
        def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
            call = PhoneCall(self, prm.callId)
            info = call.getInfo()
            _emit("incoming", call=call.index, remote=info.remoteUri, local=info.localUri)
            op = pj.CallOpParam()
            op.statusCode = args.answer
            call.answer(op)

    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = False
    config.logConfig.level = args.log_level
    config.logConfig.consoleLevel = args.log_level
    config.medConfig.clockRate = config.medConfig.sndClockRate = 8000
    config.medConfig.noVad = True
    config.medConfig.ecTailLen = 0
    endpoint.libInit(config)
    transport_config = pj.TransportConfig()
    transport_config.boundAddress = "127.0.0.1"
    transport_config.port = args.port
    transport = endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport_config)
    port = int(endpoint.transportGetInfo(transport).localName.rpartition(":")[2])
    transport_config.port = port
    endpoint.transportCreate(pj.PJSIP_TRANSPORT_TCP, transport_config)
    endpoint.libStart()
    endpoint.audDevManager().setNullDev()
    account_config = pj.AccountConfig()
    account_config.idUri = f"sip:{args.user}@127.0.0.1:{port}"
    account_config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    if args.username:
        account_config.sipConfig.authCreds.append(
            pj.AuthCredInfo("digest", "*", args.username, 0, args.password)
        )
    account = PhoneAccount()
    account.create(account_config, True)

    def send_dtmf(call: PhoneCall, digits: str, method: str) -> None:
        param = pj.CallSendDtmfParam()
        param.digits = digits
        param.method = (
            pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
        )
        call.sendDtmf(param)

    def record(path: str) -> None:
        phone.recording = path
        phone.recorder = pj.AudioMediaRecorder()
        phone.recorder.createRecorder(path)
        for call in phone.calls:
            audio = phone.media_of(call) if call.isActive() else None
            if audio is not None:
                audio.startTransmit(phone.recorder)

    def stop_record() -> None:
        recorder, phone.recorder = phone.recorder, None
        del recorder  # closing the recorder writes the WAV header...
        for _ in range(200):  # ...on PJSIP's clock thread, a little later (async conference)
            endpoint.libHandleEvents(10)
            try:
                with wave.open(phone.recording) as wav:
                    if wav.getnframes():
                        return
            except (wave.Error, EOFError, OSError):
                pass

    def current(command: dict) -> PhoneCall:
        return phone.calls[command.get("call", -1)]

    handlers: dict[str, Callable[[dict], Any]] = {
        "call": lambda c: PhoneCall(account).makeCall(c["uri"], pj.CallOpParam(True)),
        "answer": lambda c: current(c).answer(_op(pj, c.get("code", 200))),
        "hangup": lambda c: current(c).hangup(_op(pj, c.get("code", 0))),
        "dtmf": lambda c: send_dtmf(current(c), c["digits"], c.get("method", "rfc2833")),
        "hold": lambda c: current(c).setHold(pj.CallOpParam(True)),
        "unhold": lambda c: current(c).reinvite(_unhold(pj)),
        "record": lambda c: record(c["path"]),
        "stop_record": lambda c: stop_record(),
    }
    commands: queue.SimpleQueue[dict | None] = queue.SimpleQueue()

    def read_stdin() -> None:
        for line in sys.stdin:
            if line.strip():
                commands.put(json.loads(line))
        commands.put(None)

    threading.Thread(target=read_stdin, daemon=True).start()
    _emit("ready", port=port)
    while True:
        endpoint.libHandleEvents(10)
        try:
            command = commands.get_nowait()
        except queue.Empty:
            continue
        if command is None or command["cmd"] == "quit":
            break
        try:
            handlers[command["cmd"]](command)
            _emit("done", cmd=command["cmd"])
        except Exception as e:
            _emit("error", cmd=command["cmd"], error=str(e))
    sys.stdout.flush()
    os._exit(0)  # a test phone need not tear PJSIP down politely


def _op(pj: Any, code: int) -> Any:
    param = pj.CallOpParam(True)
    if code:
        param.statusCode = code
    return param


def _unhold(pj: Any) -> Any:
    param = pj.CallOpParam(True)
    param.opt.flag = pj.PJSUA_CALL_UNHOLD
    return param


# The test side


class SipPhone:
    """Starts a test phone process and talks to it (asyncio)."""

    def __init__(self, *, answer: int = 200, refer_code: int = 202, tone: int = 0, **options):
        """Configure: auto-answer status, REFER response, tone frequency played on calls (0: none).

        Other options: ``user``, ``username``/``password`` (digest for calls it makes),
        ``log_level``.
        """
        self.options = {"answer": answer, "refer_code": refer_code, "tone": tone, **options}
        self.port = 0
        self.events: list[dict] = []
        self._process: asyncio.subprocess.Process | None = None
        self._changed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    @property
    def uri(self) -> str:
        """This phone's address."""
        return f"sip:{self.options.get('user', 'phone')}@127.0.0.1:{self.port}"

    async def start(self) -> SipPhone:
        """Start the process and wait until it listens."""
        argv = [sys.executable, "-m", "tests.fakes.sip_phone"]
        for name, value in self.options.items():
            argv += [f"--{name.replace('_', '-')}", str(value)]
        root = Path(__file__).resolve().parents[2]
        self._process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=root,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        self._reader = asyncio.create_task(self._read())
        ready = await self.wait_for("ready", timeout=20)
        self.port = ready["port"]
        return self

    async def stop(self) -> None:
        """End the process."""
        if self._process and self._process.returncode is None:
            try:
                await self.send("quit", wait=False)
                await asyncio.wait_for(self._process.wait(), 5)
            except (TimeoutError, ConnectionError):
                self._process.kill()
                await self._process.wait()
        if self._reader:
            self._reader.cancel()

    async def send(self, cmd: str, *, wait: bool = True, **fields: Any) -> None:
        """Run a command in the phone (and wait until it ran)."""
        assert self._process and self._process.stdin
        seen = len(self.events)
        self._process.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())
        await self._process.stdin.drain()
        if not wait:
            return
        result = await self.wait_for(
            lambda e: e["event"] in ("done", "error") and e.get("cmd") == cmd, after=seen
        )
        if result["event"] == "error":
            raise RuntimeError(f"phone {cmd}: {result['error']}")

    async def wait_for(
        self, match: str | Callable[[dict], bool], *, timeout: float = 15, after: int = 0, **fields
    ) -> dict:
        """The first event (from index ``after``) named ``match`` with ``fields``, or matching."""

        def matches(event: dict) -> bool:
            if callable(match):
                return match(event)
            return event["event"] == match and all(event.get(k) == v for k, v in fields.items())

        async def find() -> dict:
            while True:
                for event in self.events[after:]:
                    if matches(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def _read(self) -> None:
        assert self._process and self._process.stdout
        async for line in self._process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # PJSIP's own log lines
            self.events.append(event)
            self._changed.set()


def main() -> None:
    """Run the phone process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="phone")
    parser.add_argument("--answer", type=int, default=200)
    parser.add_argument("--refer-code", type=int, default=202)
    parser.add_argument("--tone", type=int, default=0)
    parser.add_argument("--username", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--log-level", type=int, default=0)
    _phone_main(parser.parse_args())


if __name__ == "__main__":
    main()
