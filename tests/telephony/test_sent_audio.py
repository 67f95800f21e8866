"""What a pause takes back from a carrier that buffers, and the marks its ``clear`` voids."""

from __future__ import annotations

from telephony.sent_audio import MarkNames, SentAudio
from voice.frames import OutputPlaybackMarkFrame

RATE = 8000


def pcm(secs: float, value: int = 1) -> bytes:
    return value.to_bytes(2, "little") * int(secs * RATE)


def test_a_pause_takes_back_what_plays_after_it_from_a_little_before():
    sent = SentAudio()
    sent.audio(10.0, pcm(1.0, 1), RATE)
    sent.mark(11.0, OutputPlaybackMarkFrame("s1"))
    sent.audio(11.0, pcm(0.4, 2), RATE)
    sent.mark(11.4, OutputPlaybackMarkFrame("s2"))

    held = sent.take_back(now=10.8, replay_secs=0.2)

    assert held[0] == pcm(0.4, 1), "from 10.6 s: the last 0.4 s of the first piece"
    assert [getattr(item, "mark", item) for item in held[1:]] == ["s1", pcm(0.4, 2), "s2"]
    assert sent.take_back(now=10.9, replay_secs=0.2) == [], "taken back once"


def test_a_pause_after_the_audio_played_out_replays_nothing():
    sent = SentAudio()
    sent.audio(10.0, pcm(1.0), RATE)
    sent.mark(11.0, OutputPlaybackMarkFrame("s1"))
    assert sent.take_back(now=11.1, replay_secs=0.2) == []


def test_an_echo_of_a_voided_mark_is_dropped_and_the_resent_one_counts_under_its_name():
    names = MarkNames()
    names.void("s2")
    wire = names.again("s2")
    assert names.echoed("s2") is None, "Twilio returned it on clear, unplayed"
    assert names.echoed(wire) == "s2"
    # Paused again before the resent mark played: its wire name is voided in turn.
    assert names.own(again := names.again("s3")) == "s3"
    names.void(again)
    assert names.echoed(again) is None and names.echoed("s1") == "s1"
