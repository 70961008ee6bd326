"""What the JSON API (hub/api) and the web UI (hub/web) share: the typed keys on the
app and the request, the signed-in actor, the client's address and language, the
same-origin check, and the middleware that turns every error into an answer.

Both layers import from here and never from each other (import-linter keeps it so).
"""
