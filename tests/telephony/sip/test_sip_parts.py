"""The SIP engine's pure parts: digest checks, INVITE reading, the outgoing audio queue, policy."""

from __future__ import annotations

import hashlib

import pytest

from telephony.sip.digest import DigestAuthenticator, DigestCredentials, Verdict, parse_params
from telephony.sip.engine import dial_uri
from telephony.sip.outgoing import FRAME_BYTES, OutgoingAudio
from telephony.sip.request import parse_invite
from telephony.sip.settings import InboundPolicy, SipTrunk


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _authorization(challenge: str, user: str, password: str, realm: str = "pbx") -> str:
    nonce = parse_params(challenge[7:])["nonce"]
    ha1, ha2 = _md5(f"{user}:{realm}:{password}"), _md5("INVITE:sip:100@pbx")
    response = _md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="sip:100@pbx", '
        f'response="{response}", qop=auth, nc=00000001, cnonce="abc", algorithm=MD5'
    )


def test_digest_admits_the_right_password_and_refuses_a_wrong_one():
    auth = DigestAuthenticator(DigestCredentials("trunk", "s3cret", "pbx"))
    challenge = auth.challenge()

    assert auth.verify("INVITE", _authorization(challenge, "trunk", "s3cret")) is Verdict.OK
    assert auth.verify("INVITE", _authorization(challenge, "trunk", "guess")) is Verdict.WRONG
    assert auth.verify("INVITE", _authorization(challenge, "other", "s3cret")) is Verdict.WRONG
    assert auth.verify("INVITE", None) is Verdict.MISSING
    assert auth.verify("INVITE", 'Digest realm="elsewhere"') is Verdict.MISSING


def test_digest_nonces_expire_and_cannot_be_forged():
    now = [1_800_000_000.0]
    auth = DigestAuthenticator(DigestCredentials("trunk", "s3cret", "pbx"), clock=lambda: now[0])
    old = _authorization(auth.challenge(), "trunk", "s3cret")
    now[0] += 3600
    other = DigestAuthenticator(DigestCredentials("trunk", "s3cret", "pbx"))

    assert auth.verify("INVITE", old) is Verdict.STALE
    assert "stale=true" in auth.challenge(stale=True)
    assert other.verify("INVITE", _authorization(auth.challenge(), "trunk", "s3cret")) is (
        Verdict.WRONG
    )


def test_an_invite_is_read_for_routing_with_compact_headers_and_display_names():
    message = (
        "INVITE sip:%2B34910000000@pbx.example.com;user=phone SIP/2.0\r\n"
        "v: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\n"
        'f: "Ana \\"Ani\\" Ruiz" <sip:+34600111222@carrier.example>;tag=1\r\n'
        "t: <tel:+34910000000>\r\n"
        "i: abc@10.0.0.5\r\n"
        "X-Campaign: spring\r\n"
        "\r\nv=0\r\n"
    )
    request = parse_invite(message, "10.0.0.5:5062")

    assert request.request_user == "+34910000000"
    assert request.to_user == "+34910000000"
    assert request.from_user == "+34600111222" and request.from_display == 'Ana "Ani" Ruiz'
    assert request.call_id == "abc@10.0.0.5"
    assert (request.source_ip, request.source_port) == ("10.0.0.5", 5062)
    assert request.headers["x-campaign"] == "spring"


def test_outgoing_audio_comes_in_frames_reaches_marks_in_order_and_clears_at_once():
    audio = OutgoingAudio()
    audio.push(b"\x01\x00" * 200)  # 25 ms
    audio.mark("a")
    audio.push(b"\x02\x00" * 400)
    audio.mark("b")

    first, marks = audio.take()
    assert len(first) == FRAME_BYTES and marks == []
    second, marks = audio.take()
    assert second[:80] == b"\x01\x00" * 40 and marks == ["a"]
    assert audio.clear() == ["b"]
    assert audio.take() == (None, [])


def test_a_pause_takes_the_queue_back_with_its_marks_and_the_audio_just_sent():
    audio = OutgoingAudio()
    audio.push(b"\x01\x00" * 160)  # one frame, sent before the pause
    audio.mark("a")
    audio.push(b"\x02\x00" * 100)
    audio.mark("b")
    audio.push(b"\x03\x00" * 50)
    assert audio.take() == (b"\x01\x00" * 160, ["a"])

    held = audio.take_back(replay_bytes=40)
    assert held == [b"\x01\x00" * 20, b"\x02\x00" * 100, "b", b"\x03\x00" * 50]
    assert audio.queued_bytes == 0 and audio.take() == (None, [])
    for item in held:  # resumed: queued again, the mark where it was
        audio.mark(item) if isinstance(item, str) else audio.push(item)
    assert audio.take()[1] == ["b"], "reached after the held audio before it (240 bytes)"


def test_policy_allows_listed_sources_and_rejects_bad_networks_up_front():
    policy = InboundPolicy(allowed_sources=("10.0.0.0/8", "192.0.2.7"))

    assert policy.allows("10.20.30.40") and policy.allows("192.0.2.7")
    assert not policy.allows("192.0.2.8") and not policy.allows("not-an-ip")
    assert InboundPolicy().allows("203.0.113.1")
    with pytest.raises(ValueError, match="10.0.0.300"):
        InboundPolicy(allowed_sources=("10.0.0.300",))


def test_numbers_are_dialled_through_the_trunk_and_uris_as_they_are():
    trunk = SipTrunk(host="sip.carrier.example:5080", transport="tcp")

    assert (
        dial_uri("+34600123456", trunk) == "sip:+34600123456@sip.carrier.example:5080;transport=tcp"
    )
    assert dial_uri("sip:desk@pbx.local", None) == "sip:desk@pbx.local"
    with pytest.raises(ValueError, match="no trunk"):
        dial_uri("+34600123456", None)
