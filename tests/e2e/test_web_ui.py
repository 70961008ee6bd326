"""A night shift in the browser: sign in, send to a unit's inbox, read, acknowledge,
and the sender sees the receipt arrive live."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.e2e.browser import browser, sign_in
from tests.e2e.conftest import RunningHub, trusting

pytestmark = pytest.mark.e2e


def test_a_message_sent_in_the_browser_is_read_and_acknowledged_with_a_live_receipt(
        running_hub: RunningHub, tmp_path: Path) -> None:
    with browser() as chromium:
        sender_context = chromium.new_context(ignore_https_errors=False)
        sender = None
        try:
            sender_context = chromium.new_context(
                ignore_https_errors=True)  # dev CA is not in Chromium's store
            sender = sign_in(sender_context, running_hub, "omsorgvast.sara")
            sender.get_by_role("link", name="Nytt meddelande").click()
            sender.get_by_label("Hemtjänst natt Nordost").check()
            sender.get_by_label("Ämne", exact=True).fill("Fallrisk i natt")
            sender.get_by_label("Meddelande", exact=True).fill("Hon föll 02:10, titta till höften.")
            sender.get_by_label("Begär kvittens").check()
            sender.get_by_role("button", name="Skicka").click()
            sender.wait_for_url("**/meddelanden/**")
            assert sender.get_by_text("Inte läst").count() >= 1
            message_url = sender.url.split("?")[0]

            reader_context = chromium.new_context(ignore_https_errors=True)
            reader = sign_in(reader_context, running_hub, "natt.ali")
            row = reader.locator("li.message.unread", has_text="Fallrisk i natt")
            assert row.count() == 1
            row.get_by_role("link").click()
            reader.wait_for_url(message_url)
            assert reader.get_by_text("Hon föll 02:10, titta till höften.").is_visible()
            reader.get_by_label("Kommentar (frivillig)").fill("Vi tittar till henne 03:00")
            reader.get_by_role("button", name="Kvittera").click()
            reader.get_by_text("Kvitterat").wait_for()

            # The sender's open page reloads on the receipt event and shows it.
            sender.get_by_text("Vi tittar till henne 03:00").wait_for(timeout=10_000)
            sender.screenshot(path=str(tmp_path / "sender-receipts.png"), full_page=True)
            reader.screenshot(path=str(tmp_path / "reader-message.png"), full_page=True)

            # A reply goes back to the sender's unit inbox; no text travels in a URL.
            reader.get_by_role("link", name="Svara").click()
            reader.wait_for_url("**/skriv?svar=**")
            assert "Fallrisk" not in reader.url
            assert reader.get_by_label("Ämne", exact=True).input_value() == "Sv: Fallrisk i natt"
            assert reader.get_by_label("Hemtjänst Majorna").is_checked()
            reader.get_by_label("Meddelande", exact=True).fill("Höften ser bra ut.")
            reader.get_by_role("button", name="Skicka").click()
            reader.wait_for_url("**/meddelanden/**")
            reader.goto(f"{running_hub.url}/inkorg")
            assert reader.locator("li.message.unread").count() == 0

            sender.goto(f"{running_hub.url}/inkorg")
            assert sender.locator("li.message.unread", has_text="Sv: Fallrisk i natt").count() == 1
        finally:
            sender_context.close()


def test_a_refused_message_goes_by_emergency_override_and_is_reviewed_by_compliance(
        running_hub: RunningHub) -> None:
    """The alarm centre has no engagement with Gösta (demo data), so Trygg Hemtjänst may
    not tell it; at night, with a reason, the message still goes, the recipient sees
    that it came by override, it waits in the compliance officer's queue until marked
    reviewed, and the access report for Gösta lists who opened it."""
    reason = "Grannen ringde: larmet tjuter och ingen öppnar hos honom"
    with browser() as chromium:
        context = chromium.new_context(ignore_https_errors=True)
        try:
            page = sign_in(context, running_hub, "trygghem.lina")
            page.get_by_role("link", name="Nytt meddelande").click()
            page.get_by_label("Larmcentralen").check()
            page.get_by_label("Ämne", exact=True).fill("Larmet tjuter")
            page.get_by_label("Personnummer (om meddelandet gäller en person)").fill(
                "19451103-9846")
            # Whom the number names is shown before anything is sent.
            page.locator("#person-shown", has_text="Gösta Provström").wait_for()
            page.get_by_role("button", name="Skicka").click()
            page.get_by_text("Meddelandet får inte skickas:").wait_for()
            assert page.get_by_text("Mottagarens organisation har ingen pågående insats")\
                .is_visible()
            assert page.get_by_label("Skäl till nödåtkomst").is_visible()  # offered, open
            page.get_by_label("Skäl till nödåtkomst").fill(reason)
            page.get_by_role("button", name="Skicka").click()
            page.wait_for_url("**/meddelanden/**")
            assert page.get_by_text("Skickat med nödåtkomst").is_visible()
            assert "tjuter" not in page.url and "19451103" not in page.url
            message_url = page.url.split("?")[0]

            alarm = chromium.new_context(ignore_https_errors=True)
            receiver = sign_in(alarm, running_hub, "larm.jonas")
            receiver.goto(message_url)
            assert receiver.locator(".badge.emergency", has_text="Nödåtkomst").is_visible()
            assert receiver.get_by_text("skickade detta med nödåtkomst").is_visible()
            alarm.close()

            officer_context = chromium.new_context(ignore_https_errors=True)
            officer = sign_in(officer_context, running_hub, "stad.loggranskare",
                              start="/granskning")
            card = officer.locator("article.override", has_text=reason)
            assert card.count() == 1
            assert "vårdrelation" in card.inner_text()
            card.get_by_label("Din bedömning").fill("Rimligt: larm utan svar nattetid.")
            card.get_by_role("button", name="Markera som granskad").click()
            officer.get_by_text("Nödåtkomsten är markerad som granskad.").wait_for()
            assert officer.locator("article.override", has_text=reason).count() == 0
            officer.get_by_role("link", name="Granskad nödåtkomst").click()
            done = officer.locator("article.override", has_text=reason)
            assert "Rimligt: larm utan svar nattetid." in done.inner_text()

            officer.get_by_role("link", name="Åtkomstrapport").click()
            officer.get_by_label("Personnummer").fill("19451103-9846")
            officer.get_by_role("button", name="Visa rapporten").click()
            report = officer.locator("section", has_text="Trygghetslarm Göteborg")
            report.wait_for()
            assert report.get_by_text("Jonas Ahl").count() >= 1
            assert report.get_by_text("Öppnade meddelande").count() >= 1
            assert "19451103" not in officer.url
            officer_context.close()
        finally:
            context.close()


def test_a_nurse_finds_a_person_and_records_and_withdraws_a_consent(
        running_hub: RunningHub) -> None:
    """Hemsjukvården is engaged with Astrid (demo data). The personnummer goes in a form
    body; the page shows the service overview and the consent history."""
    with browser() as chromium:
        context = chromium.new_context(ignore_https_errors=True)
        try:
            page = sign_in(context, running_hub, "hsv.sjukskoterska")
            page.get_by_role("link", name="Personer").click()
            page.get_by_label("Personnummer").fill("19380412-9827")
            page.get_by_role("button", name="Sök").click()
            page.get_by_role("heading", name="Astrid Demosson").wait_for()
            # Not in the URL (its path and query: the port is a number of its own).
            where = page.url.removeprefix(running_hub.url)
            assert "19380412" not in where and "9827" not in where
            assert page.get_by_text("Hemsjukvård Nordost").count() >= 1
            assert page.locator("li.consent.in-force").count() == 1  # the demo's consent

            page.get_by_label("Muntligt").check()
            page.get_by_label("Namngivna organisationer").check()
            page.get_by_label("Trygghetslarm Göteborg").check()
            page.get_by_role("button", name="Registrera samtycke").click()
            added = page.locator("li.consent", has_text="Trygghetslarm Göteborg")
            added.wait_for()
            assert "Gäller" in added.inner_text()
            # Withdrawing is asked once more, on a page of its own.
            added.get_by_role("link", name="Återkalla").click()
            page.get_by_role("heading", name="Återkalla samtycke").wait_for()
            page.get_by_role("button", name="Ja, återkalla samtycket").click()
            page.get_by_text("Samtycket är återkallat.").wait_for()
            page.locator("li.consent", has_text="Trygghetslarm Göteborg").filter(
                has_text="Återkallat").wait_for()
            assert page.locator("li.consent").count() == 2  # withdrawn, never deleted

            page.get_by_role("link", name="Personer").click()
            page.get_by_label("Personnummer").fill("19451103-9846")  # Gösta: not engaged
            page.get_by_role("button", name="Sök").click()
            assert page.get_by_text("Ingen person som din organisation har en insats för")\
                .is_visible()
        finally:
            context.close()


def test_an_assignment_distributed_in_the_browser_is_confirmed_reported_and_started(
        running_hub: RunningHub, tmp_path: Path) -> None:
    """The routine for assigning a provider, in the browser: the case worker
    distributes, the provider's staff confirm and report the first visit, the case
    worker sees it started and confirms the start date."""
    with browser() as chromium:
        case_context = chromium.new_context(ignore_https_errors=True)
        staff_context = chromium.new_context(ignore_https_errors=True)
        try:
            case_worker = sign_in(case_context, running_hub, "bistand.handlaggare")
            case_worker.get_by_role("link", name="Uppdrag", exact=True).click()
            case_worker.get_by_role("link", name="Nytt uppdrag").click()
            # Astrid, enrolled in home health care, gets escort from Trygg Hemtjänst.
            case_worker.get_by_label("Personnummer").fill("19380412-9827")
            case_worker.get_by_label("Utförare (enhet)").select_option(
                label="Trygg Hemtjänst i Göteborg AB / Hemtjänst Hisingen")
            case_worker.get_by_label("Ledsagning", exact=True).check()
            case_worker.get_by_label("Ärendenummer").fill("SN 2026-4711")
            case_worker.get_by_label("Närståendes telefonnummer").fill("070-111 22 33")
            case_worker.get_by_role("button", name="Fördela uppdraget").click()
            case_worker.wait_for_url("**/uppdrag/**")
            case_worker.get_by_role("heading", name="Uppdrag: Fördelat").wait_for()
            assignment_url = case_worker.url.split("?")[0]
            assert "4711" not in case_worker.url and "9846" not in case_worker.url

            # (Signed in by no other test of this module: a one-time code is good once.)
            staff = sign_in(staff_context, running_hub, "trygghem.lina")
            # The assignment arrived in the unit's inbox, about the person, whose name
            # the assigned provider sees (it is to start the care).
            arrived = staff.locator("li.message.unread", has_text="Uppdrag: ledsagning")
            assert arrived.filter(has_text="Astrid Demosson").count() == 1
            staff.get_by_role("link", name="Uppdrag", exact=True).click()
            staff.locator("table.assignments a").first.click()
            staff.wait_for_url(assignment_url)
            staff.get_by_role("button", name="Bekräfta att uppdraget tagits emot").click()
            staff.get_by_role("heading", name="Uppdrag: Mottaget").wait_for()
            staff.get_by_role("button", name="Rapportera första besöket").click()
            staff.get_by_role("heading", name="Uppdrag: Påbörjat").wait_for()
            staff.screenshot(path=str(tmp_path / "provider-assignment.png"), full_page=True)

            case_worker.goto(assignment_url)
            case_worker.get_by_role("heading", name="Uppdrag: Påbörjat").wait_for()
            case_worker.get_by_role("button", name="Bekräfta verkställighetsdatum").click()
            case_worker.get_by_role("heading", name="Uppdrag: Verkställt").wait_for()
            case_worker.get_by_role("link", name="Uppdrag", exact=True).click()
            assert case_worker.locator("table.assignments tr", has_text="Verkställt").count() == 1
        finally:
            case_context.close()
            staff_context.close()


def test_a_follow_up_is_answered_with_a_file_once_the_person_consents(
        running_hub: RunningHub, tmp_path: Path) -> None:
    """Rutin för underlag vid uppföljning, in the browser: the social secretary asks
    Omsorg Väst for Karin's material (demo: her assignment to Hemtjänst Majorna); a
    private provider's material needs her consent, so the first answer is refused and
    nothing is sent; the provider records her consent and answers with the plan as a
    file; the secretary sees the request answered and opens the file's message."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    today = dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()
    plan = tmp_path / "genomforandeplan.pdf"
    plan.write_bytes(b"%PDF-1.4 genomforandeplan")
    with browser() as chromium:
        case_context = chromium.new_context(ignore_https_errors=True)
        staff_context = chromium.new_context(ignore_https_errors=True)
        try:
            secretary = sign_in(case_context, running_hub, "bistand.handlaggare")
            secretary.get_by_role("link", name="Uppdrag", exact=True).click()
            secretary.get_by_role("link", name="Uppföljning", exact=True).click()
            secretary.get_by_role("link", name="Begär uppföljning").click()
            secretary.get_by_label("Personnummer").fill("19470315-9808")
            secretary.get_by_label("Utförare (enhet)").select_option(
                label="Omsorg Väst AB / Hemtjänst Majorna")
            secretary.get_by_label("Från", exact=True).fill(
                (today - dt.timedelta(days=30)).isoformat())
            secretary.get_by_label("Till", exact=True).fill(today.isoformat())
            secretary.get_by_label("Beviljad tid under perioden (minuter)").fill("600")
            secretary.get_by_label("Svar senast").fill(
                (today + dt.timedelta(days=7)).isoformat())
            secretary.get_by_role("button", name="Skicka begäran").click()
            secretary.get_by_role("heading", name="Uppföljning: Begärd").wait_for()
            follow_up_url = secretary.url.split("?")[0]
            assert "19470315" not in secretary.url

            staff = sign_in(staff_context, running_hub, "omsorgvast.sara")
            staff.goto(follow_up_url)
            staff.get_by_label("Genomförandeplan och sammanställd genomförandejournal "
                               "(bilagor)").set_input_files(str(plan))
            staff.get_by_label("Utförd tid under perioden (minuter)").fill("600")
            staff.get_by_role("button", name="Skicka underlaget").click()
            staff.get_by_text("Det får inte skickas:").wait_for()
            assert staff.get_by_role("heading", name="Uppföljning: Begärd").is_visible()

            # Karin consents (orally, to everyone involved in her care); the provider
            # records it and sends the material.
            staff.get_by_role("link", name="Personer").click()
            staff.get_by_label("Personnummer").fill("19470315-9808")
            staff.get_by_role("button", name="Sök").click()
            staff.get_by_role("heading", name="Karin Uppdragsdotter").wait_for()
            staff.get_by_label("Muntligt").check()
            staff.get_by_role("button", name="Registrera samtycke").click()
            staff.locator("li.consent.in-force").wait_for()
            staff.goto(follow_up_url)
            staff.get_by_label("Genomförandeplan och sammanställd genomförandejournal "
                               "(bilagor)").set_input_files(str(plan))
            staff.get_by_label("Utförd tid under perioden (minuter)").fill("600")
            staff.get_by_role("button", name="Skicka underlaget").click()
            staff.get_by_role("heading", name="Uppföljning: Besvarad").wait_for()

            secretary.goto(follow_up_url)
            secretary.get_by_role("heading", name="Uppföljning: Besvarad").wait_for()
            secretary.goto(f"{running_hub.url}/inkorg")
            secretary.locator("li.message", has_text="Uppföljning: underlag")\
                .get_by_role("link").first.click()
            secretary.get_by_role("link", name="genomforandeplan.pdf").wait_for()
            secretary.screenshot(path=str(tmp_path / "follow-up-answer.png"), full_page=True)
        finally:
            case_context.close()
            staff_context.close()


def test_staff_send_about_a_person_with_an_attachment_and_a_deadline_and_it_arrives_live(
        running_hub: RunningHub) -> None:
    """Home health care writes about Astrid (demo data: engaged with Majorna, the night
    service, the alarm centre and home health care). The form shows whose number it is and puts the
    engaged organizations first; the group search narrows the list as she types. The
    night shift's open inbox takes the message in place: no reload, focus kept, and
    the arrival is announced."""
    tomorrow = (dt.datetime.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT08:30")
    with browser() as chromium:
        night_context = chromium.new_context(ignore_https_errors=True)
        sender_context = chromium.new_context(ignore_https_errors=True)
        try:
            night = sign_in(night_context, running_hub, "natt.ali")
            night.evaluate("window.notReloaded = true")
            night.get_by_role("link", name="Bara brådskande").focus()

            page = sign_in(sender_context, running_hub, "hsv.sjukskoterska")
            page.get_by_role("link", name="Nytt meddelande").click()
            page.get_by_label("Personnummer (om meddelandet gäller en person)").fill(
                "19380412-9827")
            page.locator("#person-shown", has_text="Astrid Demosson").wait_for()
            first = page.locator("#group-list .org").first
            assert "har insats hos personen" in first.inner_text()
            page.get_by_label("Sök kontaktgrupp eller organisation").fill("natt nord")
            assert page.get_by_label("Hemtjänst natt Nordost").is_visible()
            assert not page.get_by_label("Hemtjänst natt Sydväst").is_visible()
            assert not page.get_by_label("Larmcentralen").is_visible()
            page.get_by_label("Hemtjänst natt Nordost").check()
            page.get_by_label("Ämne", exact=True).fill("Ny dosett")
            page.get_by_label("Meddelande", exact=True).fill("Dosetten byts i kväll.")
            page.get_by_label("Bilagor").set_input_files(files=[{
                "name": "dosering.txt", "mimeType": "text/plain",
                "buffer": b"Alvedon 500 mg 1x3"}])
            page.get_by_label("Begär kvittens").check()
            page.get_by_label("Kvittera senast (frivilligt)").fill(tomorrow)
            page.get_by_role("button", name="Skicka").click()
            page.wait_for_url("**/meddelanden/**")
            page.get_by_text("Meddelandet är skickat.").wait_for()
            assert page.get_by_role("link", name="dosering.txt").is_visible()
            when = tomorrow.replace("T", " ")
            assert page.get_by_text(f"ja, senast {when}").is_visible()

            night.locator("#inbox-list li", has_text="Ny dosett").wait_for(timeout=10_000)
            assert night.evaluate("window.notReloaded") is True
            assert night.evaluate("document.activeElement.textContent") == "Bara brådskande"
            night.locator("#live-banner p", has_text="Ett nytt meddelande har kommit.")\
                .wait_for()
            night.locator("#inbox-list li", has_text="Ny dosett").get_by_role("link").click()
            assert night.get_by_role("link", name="dosering.txt").is_visible()
            assert night.get_by_text("Gäller").count() >= 1
            assert night.get_by_text("Astrid Demosson").count() >= 1
        finally:
            night_context.close()
            sender_context.close()


def test_an_it_contact_creates_an_account_adds_it_to_a_group_and_it_receives_the_next_message(
        running_hub: RunningHub) -> None:
    """Omsorg Väst's IT contact creates Nora's account (start password and QR code shown
    once), puts her in the lead group; the next message to that group reaches her."""
    with browser() as chromium:
        it_context = chromium.new_context(ignore_https_errors=True)
        try:
            admin = sign_in(it_context, running_hub, "omsorgvast.it", start="/admin/konton")
            admin.get_by_label("Namn", exact=True).fill("Nora Natt")
            admin.get_by_label("Användarnamn").fill("omsorgvast.nora")
            admin.get_by_label("Enhet").select_option(label="Hemtjänst Majorna")
            assert admin.get_by_label("Personal").is_checked()
            admin.get_by_role("button", name="Skapa kontot").click()
            admin.get_by_role("heading", name="Kontot är skapat: Nora Natt").wait_for()
            assert admin.get_by_role("img", name="QR-kod för autentiseringsappen").is_visible()
            secrets = admin.locator("code.secret").all_inner_texts()
            password, totp_secret = secrets
            assert password not in admin.url and totp_secret not in admin.url

            admin.get_by_role("link", name="Kontaktgrupper").click()
            admin.get_by_role("link", name="Jourhavande chef").click()
            admin.get_by_label("Konto").select_option(label="Nora Natt (omsorgvast.nora)")
            admin.get_by_role("button", name="Lägg till").first.click()
            admin.get_by_text("Ändringen är sparad.").wait_for()
            assert admin.locator("ul.members", has_text="Nora Natt").count() == 1
        finally:
            it_context.close()

    sender = running_hub.api_token("natt.ali")
    with httpx.Client(verify=trusting(running_hub.ca), base_url=running_hub.url,
                      headers={"Authorization": f"Bearer {sender}"}) as api:
        groups = api.get("/api/v1/groups").json()
        lead = next(g["id"] for g in groups if g["name"] == "Jourhavande chef")
        sent = api.post("/api/v1/messages", json={
            "group_ids": [lead], "subject": "Till jourhavande", "body": "Ring natten."})
        assert sent.status_code == 201, sent.text

    with browser() as chromium:
        nora_context = chromium.new_context(ignore_https_errors=True)
        try:
            page = nora_context.new_page()
            page.goto(f"{running_hub.url}/login")
            page.get_by_label("Användarnamn").fill("omsorgvast.nora")
            page.get_by_label("Lösenord").fill(password)
            page.get_by_label("Engångskod från din autentiseringsapp").fill(
                pyotp.TOTP(totp_secret).now())
            page.get_by_role("button", name="Logga in").click()
            page.wait_for_url(f"{running_hub.url}/inkorg")
            assert page.locator("li.message.unread", has_text="Till jourhavande").count() == 1
        finally:
            nora_context.close()


def test_a_case_worker_registers_a_person_and_imports_engagements_from_a_csv_file(
        running_hub: RunningHub, tmp_path: Path) -> None:
    """The case worker registers Ingrid, then imports her engagements from a file: a
    file with a bad row is refused as a whole with the row named in Swedish; corrected,
    it is imported and her service overview shows it."""
    with browser() as chromium:
        context = chromium.new_context(ignore_https_errors=True)
        try:
            page = sign_in(context, running_hub, "bistand.handlaggare")
            page.get_by_role("link", name="Personer").click()
            page.get_by_label("Personnummer").nth(1).fill("19410505-9804")
            page.get_by_label("Namn").fill("Ingrid Importsson")
            page.get_by_role("button", name="Registrera").click()
            page.get_by_role("heading", name="Ingrid Importsson").wait_for()
            page.get_by_text("Personen är registrerad.").wait_for()
            assert "19410505" not in page.url

            page.get_by_role("link", name="Personer").click()
            page.get_by_role("link", name="Importera insatser").click()
            bad = tmp_path / "insatser.csv"
            bad.write_text("personnummer;enhet;insats;start\n"
                           "19410505-9804;Omsorg Väst AB / Hemtjänst Majorna;home_care;2026-12-01\n"
                           "19410505-9804;Larmcentralen saknas;alarm_response;2026-12-01\n",
                           encoding="utf-8")
            page.get_by_label("CSV-fil").set_input_files(str(bad))
            page.get_by_role("button", name="Importera").click()
            page.get_by_text("Ingen insats importerades.").wait_for()
            refused = page.locator("table tbody tr")
            assert refused.count() == 1
            assert refused.first.inner_text().startswith("3")
            assert "Enhet:" in refused.first.inner_text()

            good = tmp_path / "insatser-rattad.csv"
            good.write_text("personnummer;enhet;insats;start\n"
                            "19410505-9804;Omsorg Väst AB / Hemtjänst Majorna;home_care;"
                            "2026-12-01\n"
                            "19410505-9804;Trygghetslarm Göteborg / Larmcentralen;"
                            "alarm_response;2026-12-01\n", encoding="utf-8")
            page.get_by_label("CSV-fil").set_input_files(str(good))
            page.get_by_role("button", name="Importera").click()
            page.get_by_text("2 insatser är importerade.").wait_for()

            page.get_by_role("link", name="Personer").click()
            page.get_by_label("Personnummer").first.fill("19410505-9804")
            page.get_by_role("button", name="Sök").click()
            page.get_by_role("heading", name="Ingrid Importsson").wait_for()
            overview = page.locator("section", has_text="Insatser").first
            assert "Hemtjänst Majorna" in overview.inner_text()
            assert "Larmcentralen" in overview.inner_text()
        finally:
            context.close()


def test_the_compose_form_is_reached_and_sent_by_keyboard_alone(
        running_hub: RunningHub) -> None:
    """The skip link comes first; from the content, the subject is two tab stops away;
    the recipients are found by typing and ticked with the space bar; Enter in the
    search box does not send the form."""
    with browser() as chromium:
        context = chromium.new_context(ignore_https_errors=True)
        try:
            page = sign_in(context, running_hub, "larm.jonas")
            page.goto(f"{running_hub.url}/skriv")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == \
                "Hoppa till innehållet"
            page.keyboard.press("Enter")
            page.keyboard.press("Tab")  # the personnummer
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "subject"
            page.keyboard.type("Larm utan svar")
            page.keyboard.press("Tab")
            page.keyboard.type("Ingen svarar i porttelefonen.")
            page.get_by_label("Sök kontaktgrupp eller organisation").focus()
            page.keyboard.type("kamera")
            page.keyboard.press("Enter")  # nothing is sent
            assert page.url.split("#")[0].endswith("/skriv")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.closest('label').textContent")\
                .strip() == "Tillsyn via trygghetskamera"
            page.keyboard.press("Space")
            # The visible focus: an outline, not the browser's default nothing.
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none"
            page.get_by_role("button", name="Skicka").focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**/meddelanden/**")
            page.get_by_text("Meddelandet är skickat.").wait_for()
        finally:
            context.close()
