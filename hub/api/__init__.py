"""The JSON API under /api/v1: thin handlers over the services."""
