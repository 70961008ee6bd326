"""Which text the hub accepts: what both databases can store the same way.

PostgreSQL's text types cannot hold U+0000, and its UTF-8 encoding has no form for
a lone surrogate (U+D800-U+DFFF without its pair: JSON's `"\\ud800"` escape, or an
HTTP header that is not UTF-8, decode to one). SQLite stores the first and refuses
the second. Every way in (JSON bodies, query parameters, headers, web forms, CSV
files) refuses such text with the same 4xx before it reaches a database, so the same
input gets the same answer on both.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# For error messages; never repeats the text itself.
UNSTORABLE_MESSAGE = "holds a character that cannot be stored (U+0000 or a lone surrogate)"


def storable(text: str) -> bool:
    """True unless `text` holds U+0000 or a lone surrogate."""
    if text.isascii():
        return "\x00" not in text
    return _UNSTORABLE.search(text) is None


# The most a message's body may hold, as UTF-8: what storage cares about. The one
# limit, checked by the message service (the API and the web form only describe it).
MAX_BODY_BYTES = 64 * 1024
