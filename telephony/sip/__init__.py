"""SIP: a PJSIP SIP/RTP engine (calls in and out, DTMF, REFER, digest) and its pipecat transport."""
