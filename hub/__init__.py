"""The hub server: aiohttp app, storage, domain services, web UI, workers and `hub` CLI."""
