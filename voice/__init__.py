"""Speech: codecs, VAD, STT, TTS, the per-call pipeline, latency and model files."""
