"""Journal hooks: which addresses a delivery may go to, the retry schedule, and what an
endpoint may be set to. Pure rules; the service (hub/services/hooks.py) applies them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from hub.domain.vocabulary import Category, HookEvent, HookFormat

# Retries over at least this long, then the item is dead-lettered (the IT contact sees
# it and may try again by hand).
GIVE_UP_AFTER = dt.timedelta(hours=72)
# The first retry waits this long, each next one twice as long, up to `LONGEST_WAIT`.
FIRST_WAIT = dt.timedelta(seconds=10)
LONGEST_WAIT = dt.timedelta(hours=4)
MAX_URL = 2000
# Events a FHIR endpoint takes: those carried by a `Communication`.
FHIR_EVENTS = frozenset({HookEvent.MESSAGE_RECEIVED, HookEvent.MESSAGE_ACKNOWLEDGED,
                         HookEvent.ASSIGNMENT_STEP})
# A group's journal rule: record every message that reaches it.
EVERY_CATEGORY = "*"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def retry_at(attempts: int, failed_at: dt.datetime, window_started_at: dt.datetime,
             jitter: float) -> dt.datetime | None:
    """When to try again after the `attempts`-th attempt failed at `failed_at`; None:
    the schedule is over (dead-letter). The wait doubles from `FIRST_WAIT` up to
    `LONGEST_WAIT`, and is spread by `jitter` (0 to 1, random) over its upper half, so
    that items that failed together do not all come back together."""
    if failed_at - window_started_at >= GIVE_UP_AFTER:
        return None
    wait: dt.timedelta = min(FIRST_WAIT * 2 ** min(max(attempts - 1, 0), 20), LONGEST_WAIT)
    spread: dt.timedelta = wait / 2 * min(max(jitter, 0.0), 1.0)
    return failed_at + wait / 2 + spread


# IPv6 ranges that carry an IPv4 address inside (6to4, NAT64, Teredo, IPv4-compatible):
# where they lead depends on that address, so a delivery never goes through them
# unless the operator allowed the range itself.
_TUNNELS = tuple(ipaddress.ip_network(n) for n in (
    "2002::/16", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/32", "::/96"))


def address_allowed(address: IPAddress, allowed: Iterable[Network]) -> bool:
    """Whether a delivery may connect to `address`: a public address, or one inside a
    network the operator allowed (a journal system in the city's own network). Private,
    loopback, link-local, shared, reserved and multicast ranges are refused otherwise
    (no SSRF into the hub's own network), and so are IPv6 forms that tunnel to an IPv4
    address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return True
    if isinstance(address, ipaddress.IPv6Address) and any(address in t for t in _TUNNELS):
        return False
    return address.is_global and not address.is_multicast


def url_problem(url: str, allow_plain_http_loopback: bool) -> str | None:
    """What is wrong with an endpoint URL (None: nothing). HTTPS only; plain HTTP only
    to a loopback address and only where the development setting allows it; no
    credentials or fragment in the URL."""
    if len(url) > MAX_URL:
        return f"at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a URL"
    del port
    if not parts.hostname:
        return "an https:// URL with a host"
    if not _plain_host(parts.hostname):
        # What a URL library would make of anything else (full-width digits, "127。0。0。1",
        # "2130706433") is not what was checked: only plain names and addresses.
        return "a host of ASCII letters, digits and hyphens, or an IP address as usual"
    if parts.username is not None or parts.password is not None:
        return "no credentials in the URL: the deliveries are signed"
    if parts.fragment:
        return "no fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        if allow_plain_http_loopback:
            return None
        return "https:// (plain http to loopback is a development setting)"
    return "an https:// URL"


def events_problem(events: Iterable[str], format: str) -> str | None:
    """What is wrong with an endpoint's events for its format (None: nothing)."""
    chosen = list(events)
    words = {e.value for e in HookEvent}
    if not chosen or any(e not in words for e in chosen):
        return "one or more of " + ", ".join(sorted(words))
    if format == HookFormat.FHIR and any(HookEvent(e) not in FHIR_EVENTS for e in chosen):
        return "a FHIR endpoint takes " + ", ".join(sorted(e.value for e in FHIR_EVENTS))
    return None


def records(journal_categories: str, category: str) -> bool:
    """Whether a group with this journal rule records a message of `category`."""
    if not journal_categories:
        return False
    return journal_categories == EVERY_CATEGORY or category in journal_categories.split(",")


def journal_rule_problem(categories: Iterable[str]) -> str | None:
    chosen = list(categories)
    if chosen == [EVERY_CATEGORY]:
        return None
    words = {c.value for c in Category}
    if any(c not in words for c in chosen):
        return "\"*\" or categories among " + ", ".join(sorted(words))
    return None


_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _plain_host(host: str) -> bool:
    """A DNS name of ASCII labels (not all digits: no "2130706433" or "127.1"), a dotted
    IPv4 address, or an IPv6 address in brackets (`hostname` has them stripped)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return isinstance(address, ipaddress.IPv6Address) or str(address) == host
    if not host.isascii() or len(host) > 253:
        return False
    labels = host.lower().rstrip(".").split(".")
    return all(_LABEL.fullmatch(label) for label in labels) \
        and not all(c.isdigit() or c == "." for c in host) \
        and not labels[-1].isdigit()


def is_loopback_host(host: str) -> bool:
    """"localhost" or a loopback address (the config allows plain HTTP there)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
