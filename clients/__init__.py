"""Programs that talk to the hub over HTTPS only: the SDK and the `hubctl` CLI.

Nothing here imports `hub`: these work against any deployment.
"""

from clients.sdk import HubClient, HubClientError, ProblemError

__all__ = ["HubClient", "HubClientError", "ProblemError"]
