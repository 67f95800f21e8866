"""Speech: shared models, VAD and turn-taking, STT, TTS, the per-call pipeline, playback marks."""
