"""The server-rendered web UI (Swedish by default, English available)."""
