"""The rules of journal hooks: the retry schedule, which addresses a delivery may
reach, endpoint URLs and events, a group's journal rule; the Standard Webhooks
signature (checked with the `standardwebhooks` library); the FHIR form."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import uuid

import pytest
from fhir.resources.R4B.communication import Communication
from standardwebhooks import Webhook

import keys
from hub.domain import hooks
from hub.domain.vocabulary import HookEvent
from hub.services import journal_payloads as payloads

T0 = dt.datetime(2026, 12, 3, 2, 10, tzinfo=dt.UTC)


@pytest.mark.parametrize("jitter", [0.0, 0.5, 1.0])
def test_retries_wait_longer_each_time_and_give_up_after_72_hours(jitter: float) -> None:
    now, waits, attempts = T0, [], 0
    while True:
        attempts += 1
        after = hooks.retry_at(attempts, now, T0, jitter)
        if after is None:
            break
        waits.append(after - now)
        now = after
    assert now - T0 >= hooks.GIVE_UP_AFTER
    assert now - T0 < hooks.GIVE_UP_AFTER + hooks.LONGEST_WAIT
    assert waits == sorted(waits) and waits[-1] <= hooks.LONGEST_WAIT
    # The first retry comes within seconds; half of each wait is spread by the jitter.
    assert hooks.FIRST_WAIT / 2 <= waits[0] <= hooks.FIRST_WAIT
    assert 15 <= attempts <= 60


def test_jitter_spreads_the_wait_over_its_upper_half() -> None:
    low = hooks.retry_at(5, T0, T0, 0.0)
    high = hooks.retry_at(5, T0, T0, 1.0)
    assert low is not None and high is not None
    assert high - T0 == 2 * (low - T0) == hooks.FIRST_WAIT * 16
    assert hooks.retry_at(10_000, T0, T0, 0.3) is not None  # no overflow, capped


@pytest.mark.parametrize("address,allowed", [
    ("93.184.216.34", True), ("2a00:1450:4001::1", True),
    ("127.0.0.1", False), ("::1", False), ("10.0.0.5", False), ("172.16.3.4", False),
    ("192.168.1.1", False), ("169.254.169.254", False), ("fe80::1", False),
    ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("fc00::1", False), ("::ffff:10.0.0.1", False), ("::ffff:93.184.216.34", True),
    # IPv6 forms that lead to an IPv4 address: 6to4, NAT64, Teredo, IPv4-compatible.
    ("2002:7f00:1::", False), ("64:ff9b::a00:1", False), ("2001:0:4136:e378::1", False),
    ("::7f00:1", False), ("::5db8:d822", False),
])
def test_deliveries_reach_public_addresses_only(address: str, allowed: bool) -> None:
    assert hooks.address_allowed(ipaddress.ip_address(address), []) is allowed


def test_the_operator_may_allow_a_network() -> None:
    city = [ipaddress.ip_network("10.20.0.0/16")]
    assert hooks.address_allowed(ipaddress.ip_address("10.20.3.4"), city)
    assert not hooks.address_allowed(ipaddress.ip_address("10.21.3.4"), city)


HOST = "a host of ASCII letters, digits and hyphens, or an IP address as usual"


@pytest.mark.parametrize("url,dev,problem", [
    ("https://journal.example/hooks", False, None),
    ("https://journal.example:8443/h?org=1", False, None),
    ("http://127.0.0.1:8081/hooks", True, None),
    ("http://localhost:8081/hooks", True, None),
    ("http://127.0.0.1:8081/hooks", False, "https:// (plain http to loopback is a "
                                           "development setting)"),
    ("http://journal.example/hooks", True, "an https:// URL"),
    ("ftp://journal.example/hooks", False, "an https:// URL"),
    ("https://u:p@journal.example/", False, "no credentials in the URL: the deliveries "
                                            "are signed"),
    ("https://journal.example/#x", False, "no fragment"),
    ("https:///hooks", False, "an https:// URL with a host"),
    ("https://journal.example:99999/", False, "not a URL"),
    # What a URL library would turn into another host than the one checked.
    ("https://127。0。0。1/", False, HOST),
    ("https://１２７.0.0.1/", False, HOST),
    ("https://2130706433/", False, HOST),
    ("https://127.1/", False, HOST),
    ("https://0x7f.1/", False, HOST),
    ("https://10.0.0.01/", False, HOST),
    ("https://a..b/", False, HOST),
    ("https://" + "a" * 64 + ".example/", False, HOST),
    ("https://xn--jrnal-ua.example/", False, None),
    ("https://" + "a" * 2000 + ".example/", False, "at most 2000 characters"),
])
def test_endpoint_urls(url: str, dev: bool, problem: str | None) -> None:
    assert hooks.url_problem(url, dev) == problem


def test_events_and_formats() -> None:
    assert hooks.events_problem(["message.received", "consent.changed"], "json") is None
    assert hooks.events_problem([], "json") is not None
    assert hooks.events_problem(["message.sent"], "json") is not None
    assert hooks.events_problem(["consent.changed"], "fhir") is not None
    assert hooks.events_problem(["assignment.step", "message.acknowledged"], "fhir") is None


def test_a_groups_journal_rule() -> None:
    assert not hooks.records("", "general")
    assert hooks.records("*", "general")
    assert hooks.records("care_information,assignment", "assignment")
    assert not hooks.records("care_information", "general")
    assert hooks.journal_rule_problem(["*"]) is None
    assert hooks.journal_rule_problem([]) is None
    assert hooks.journal_rule_problem(["care_information"]) is None
    assert hooks.journal_rule_problem(["*", "general"]) is not None
    assert hooks.journal_rule_problem(["gossip"]) is not None


def test_signatures_verify_with_the_standard_webhooks_library() -> None:
    old, new = keys.new_webhook_secret(), keys.new_webhook_secret()
    assert old.startswith("whsec_") and old != new
    body = b'{"type":"message.received","data":{"text":"h\xc3\xb6ften"}}'
    now = int(dt.datetime.now(dt.UTC).timestamp())
    header = keys.webhook_signature([new, old], "msg_1", now, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now),
               "webhook-signature": header}
    for secret in (old, new):
        Webhook(secret).verify(body.decode(), headers)  # raises unless it verifies
    with pytest.raises(Exception):  # noqa: B017 - the library's own error
        Webhook(keys.new_webhook_secret()).verify(body.decode(), headers)
    with pytest.raises(ValueError):
        keys.webhook_signature([], "msg_1", now, body)
    with pytest.raises(ValueError):
        keys.webhook_signature(["not-a-secret"], "msg_1", now, body)


def _delivery(person: payloads.PersonShown | None, **extra: object) -> payloads.Delivery:
    message = payloads.MessageFacts(
        id=uuid.uuid4(), thread_id=uuid.uuid4(), reply_to_id=uuid.uuid4(), sent_at=T0,
        category="care_information", priority="urgent", routine_step=None,
        requires_ack=True, ack_deadline=T0 + dt.timedelta(hours=1), subject="Larmet gick",
        body="Föll i badrummet", attachments=[{"position": 0, "filename": "bild.png",
                                              "content_type": "image/png", "size": 12}],
        sender_organization_id=uuid.uuid4(), sender_organization="Hemtjänst natt",
        sender_unit="Natt Nordost", sender_name=None)
    return payloads.Delivery(id=uuid.uuid4(), event=HookEvent.MESSAGE_RECEIVED, created_at=T0,
                             organization_id=uuid.uuid4(), organization="Omsorg AB",
                             person=person, message=message, **extra)  # type: ignore[arg-type]


def test_the_fhir_form_validates_and_names_the_person_by_the_national_identifier() -> None:
    shown = payloads.PersonShown("191212121212", "Tolvan Tolvansson", None)
    resource = payloads.fhir(_delivery(shown))
    Communication.model_validate(resource)
    assert resource["subject"]["identifier"]["system"] == payloads.PERSONNUMMER_SYSTEM
    assert resource["priority"] == "urgent"
    assert resource["payload"][1]["contentAttachment"]["title"] == "bild.png"
    coordination = payloads.fhir(_delivery(payloads.PersonShown("191212721210", "X", None)))
    assert coordination["subject"]["identifier"]["system"] == \
        payloads.SAMORDNINGSNUMMER_SYSTEM


def test_a_pseudonym_is_all_a_journal_gets_of_a_protected_identity() -> None:
    hidden = payloads.PersonShown(None, None, "Skyddad 4F2A")
    for document in (payloads.native(_delivery(hidden)), payloads.fhir(_delivery(hidden))):
        text = json.dumps(document)
        assert "Skyddad 4F2A" in text and "191212" not in text and "Tolvan" not in text
    assert payloads.native(_delivery(hidden))["data"]["person"] == {"pseudonym": "Skyddad 4F2A"}


def test_a_message_without_text_is_still_a_valid_communication() -> None:
    delivery = _delivery(None)
    assert delivery.message is not None
    empty = payloads.Delivery(**{**vars(delivery), "message": payloads.MessageFacts(
        **{**vars(delivery.message), "body": ""})})
    resource = payloads.fhir(empty)
    Communication.model_validate(resource)
    assert all("contentString" not in part for part in resource["payload"])


def test_a_body_is_the_same_bytes_every_time_it_is_built() -> None:
    delivery = _delivery(payloads.PersonShown("191212121212", "Tolvan", None))
    assert payloads.encode(payloads.native(delivery)) == payloads.encode(
        payloads.native(delivery))
    assert payloads.encode(payloads.fhir(delivery)) == payloads.encode(payloads.fhir(delivery))
