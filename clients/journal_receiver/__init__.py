"""A reference journal receiver: what a journal system puts behind the hub's hooks.

The hub delivers "record this in the journal" items to an organization's hook
endpoint as Standard Webhooks (https://www.standardwebhooks.com/): headers
`webhook-id`, `webhook-timestamp` and `webhook-signature` (HMAC-SHA256 with the
endpoint's `whsec_` secret, one signature per secret in force while a secret is being
rotated), the body JSON. This receiver

- verifies the signature and the timestamp (at most 5 minutes off) with the
  `standardwebhooks` library, against each secret it was given (old and new while
  rotating);
- de-duplicates by `webhook-id`: the hub delivers at least once, so a retry of an
  item already recorded answers with the same journal reference and stores nothing;
  a replay captured and sent again later is refused by its timestamp;
- stores each entry in its own SQLite file and answers `200 {"reference": ...}`,
  which the hub shows the sender as "journalförd".

It never logs a payload (which may name a person), only ids and references. It
imports nothing of the hub: a journal vendor's starting point.

Run it with `python -m clients.journal_receiver` (see `--help`); the secrets come
from a file or the environment, never from the command line.
"""

from clients.journal_receiver.app import Journal, make_app

__all__ = ["Journal", "make_app"]
