"""SIP carrier: a PJSIP SIP/RTP engine (calls in and out, DTMF, REFER) and its pipecat transport."""
