"""SIP carrier: calls in and out on a PJSIP engine (RTP, DTMF, REFER), as legs of the call core."""
