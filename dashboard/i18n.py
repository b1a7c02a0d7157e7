"""Languages of the dashboard: message catalogues (gettext .po, read with Babel) and locale formatting.

The field and the Global Protection Cluster work in English, French, Arabic and Spanish, so every visible
string is looked up in ``dashboard/translations/<lang>/LC_MESSAGES/messages.po``. The .po files are read at
start-up (``babel.messages.pofile``): no compiled .mo file can go stale; a fresh ``pip install -e .`` works.

Write new visible strings in English with named placeholders and pass them through ``_()``::

    _("{value} victims detected per 100,000 people", value=fmt_number(x, 1))

Never build a visible sentence by concatenation or f-string: word order differs between languages.
"""

from __future__ import annotations

import copy
import logging
import threading
from datetime import date, datetime
from pathlib import Path

from babel import Locale
from babel.numbers import format_decimal, format_percent

log = logging.getLogger(__name__)

LANGUAGES = ("en", "fr", "ar", "es")
RTL_LANGUAGES = frozenset({"ar"})
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ar": "العربية", "es": "Español"}  # each in itself
COOKIE_NAME = "crisisrisk_lang"
QUERY_PARAMETER = "lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"

_LOCK = threading.Lock()
_CATALOGUES: dict[str, dict[str, str]] = {}


def _catalogue_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def _load_catalogue(locale: str) -> dict[str, str]:
    """msgid -> msgstr of one language: fuzzy and empty entries are left out (they fall back to English)."""
    path = _catalogue_path(locale)
    if not path.exists():
        if locale != DEFAULT_LANGUAGE:
            log.warning("no message catalogue for %s at %s: English is shown", locale, path)
        return {}
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    messages = {
        str(m.id): str(m.string)
        for m in catalogue
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy
    }
    log.info("read %d messages for %s from %s", len(messages), locale, path.name)
    return messages


def catalogue(locale: str) -> dict[str, str]:
    """The messages of ``locale`` (read once per process)."""
    if locale not in _CATALOGUES:
        with _LOCK:
            if locale not in _CATALOGUES:
                _CATALOGUES[locale] = _load_catalogue(locale)
    return _CATALOGUES[locale]


def reload_catalogues() -> None:
    """Forget the catalogues read so far (after ``extract`` rewrote them, in tests)."""
    with _LOCK:
        _CATALOGUES.clear()


def normalise(value: str | None) -> str | None:
    """A supported language from a code such as ``fr``, ``fr-CA`` or ``AR``, or None."""
    if not value:
        return None
    code = str(value).strip().replace("_", "-").split("-", 1)[0].lower()
    return code if code in LANGUAGES else None


def current_locale() -> str:
    """The request's language: ``?lang=``, then the cookie (the remembered choice), then ``Accept-Language``.

    A Dash callback is a POST without the page's query string, so the page URL (the Referer) is read after the
    request's own ``?lang=``. Outside a request: English.
    """
    from flask import has_request_context, request

    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = normalise(request.args.get(QUERY_PARAMETER))
    if chosen:
        return chosen
    referrer = request.referrer
    if referrer and f"{QUERY_PARAMETER}=" in referrer:
        from urllib.parse import parse_qs, urlsplit

        values = parse_qs(urlsplit(referrer).query).get(QUERY_PARAMETER)
        chosen = normalise(values[0]) if values else None
        if chosen:
            return chosen
    chosen = normalise(request.cookies.get(COOKIE_NAME))
    if chosen:
        return chosen
    best = request.accept_languages.best_match(LANGUAGES)
    return normalise(best) or DEFAULT_LANGUAGE


def is_rtl(locale: str | None = None) -> bool:
    return (locale or current_locale()) in RTL_LANGUAGES


def gettext(msgid: str, locale: str) -> str:
    """The translation of ``msgid`` in ``locale``, or ``msgid`` itself when the catalogue has none."""
    if locale == DEFAULT_LANGUAGE:
        return msgid
    return catalogue(locale).get(msgid, msgid)


def translate(msgid: str, locale: str, **values) -> str:
    """``_()`` with an explicit locale (the PDF brief, the CLI): translate, then ``str.format(**values)``."""
    text = gettext(msgid, normalise(locale) or DEFAULT_LANGUAGE)
    if not values:
        return text
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):  # a broken translation must not break the page: English
        log.warning("translation of %r into %s does not fit its placeholders; English shown", msgid, locale)
        return msgid.format(**values)


def _(msgid: str, **values) -> str:
    """Translate ``msgid`` for the current request's language, then fill its named placeholders."""
    return translate(msgid, current_locale(), **values)


def _babel_locale(locale: str | None) -> Locale:
    return Locale.parse(normalise(locale) or current_locale())


def fmt_number(value, decimals: int = 1, locale: str | None = None) -> str:
    """A number with ``decimals`` decimals in the locale's digits and separators; '–' for a missing value.

    Digits follow Babel's locale data (its default numbering system): Latin digits for ``ar``, as CLDR has it.
    """
    if value is None or value != value:  # None or NaN
        return "–"
    babel_locale = _babel_locale(locale)
    pattern = copy.copy(babel_locale.decimal_formats[None])
    pattern.frac_prec = (decimals, decimals)
    return format_decimal(value, format=pattern, locale=babel_locale, numbering_system="default")


def fmt_percent(value, decimals: int = 0, locale: str | None = None) -> str:
    """A share (0.25 -> 25 %) in the locale's way of writing percentages; '–' for a missing value."""
    if value is None or value != value:
        return "–"
    babel_locale = _babel_locale(locale)
    pattern = copy.copy(babel_locale.percent_formats[None])  # "25 %" in French, "25%" in English
    pattern.frac_prec = (decimals, decimals)
    return format_percent(value, format=pattern, locale=babel_locale, numbering_system="default")


def fmt_date(value: date | datetime | str | None, locale: str | None = None) -> str:
    """A date as the locale writes day, short month and year (2 déc. 2026, 2 dic 2026); '–' if missing."""
    from babel.dates import format_skeleton

    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        value = value.date()
    return format_skeleton("yMMMd", value, locale=_babel_locale(locale))
