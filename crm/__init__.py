"""The database: calls, transcripts and (later) leads; analysis; the admin API."""
