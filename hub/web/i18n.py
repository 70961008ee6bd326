"""UI texts in Swedish (default) and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "app_name": "Omsorgshubben",
        "login_title": "Logga in",
        "username": "Användarnamn",
        "password": "Lösenord",
        "totp": "Engångskod från din autentiseringsapp",
        "login_button": "Logga in",
        "login_failed": "Fel användarnamn, lösenord eller engångskod.",
        "login_throttled": "För många misslyckade försök. Försök igen om {seconds} sekunder.",
        "logout": "Logga ut",
        "signed_in_as": "Inloggad som",
        "organization": "Organisation",
        "roles": "Roller",
        "session_expired": "Du har loggats ut. Logga in igen.",
        "other_language": "In English",
    },
    "en": {
        "app_name": "Care hub",
        "login_title": "Sign in",
        "username": "Username",
        "password": "Password",
        "totp": "One-time code from your authenticator app",
        "login_button": "Sign in",
        "login_failed": "Wrong username, password or one-time code.",
        "login_throttled": "Too many failed attempts. Try again in {seconds} seconds.",
        "logout": "Sign out",
        "signed_in_as": "Signed in as",
        "organization": "Organization",
        "roles": "Roles",
        "session_expired": "You have been signed out. Please sign in again.",
        "other_language": "På svenska",
    },
}
