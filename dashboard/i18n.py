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
import decimal
import json
import logging
import re
import threading
from datetime import date, datetime
from pathlib import Path

from babel import Locale
from babel.numbers import format_decimal, format_percent
from dash import html

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
        _TRANSLATORS.clear()


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


def N_(msgid: str) -> str:  # noqa: N802 - the gettext name for "extract this, translate later"
    """Mark ``msgid`` for the catalogue without translating it now (translated where it is shown)."""
    return msgid


# How pages join translated pieces into one line: each piece is matched and translated on its own.
JOINERS = (N_("{first}; {rest}"), N_("{first} · {rest}"), N_("{first}, {rest}"))
# Shapes of text the pages and models build from pieces (not one f-string), so each is translated whole.
PATTERNS = (
    N_("{number} million"),
    N_("{value} conflict deaths per 100,000 ({year})"),
    N_("{value} refugees and asylum-seekers abroad ({year})"),
    N_("{value} refugees and asylum-seekers hosted ({year})"),
    N_("{value} IDPs ({year})"),
    N_("People exposed: {people}"),
    N_("n per year: {counts}"),
    N_("{year}: {count}"),
    N_("pre-trend (k=-1 minus k=-3) {estimate}, {pct} interval {lower} to {upper}: {verdict}"),
    N_("no pre-trend detected"),
    N_("a pre-trend: read the curve with caution"),
    N_(
        "percentile of expected rise, 0–100: expected rise of nationals detected as trafficking"
        " victims abroad"
    ),
    N_("percentile of expected rise, 0–100"),
    # the watch list's driver labels (models.watchlist.DRIVER_LABELS, stored with each score's terms)
    N_("refugees and asylum-seekers abroad, change over two years"),
    N_("conflict IDPs, change over two years"),
    N_("deaths in organised violence per 100,000"),
    N_("deaths in organised violence, change against the previous three years"),
    N_("people affected by disasters per 100,000"),
    N_("refugees and asylum-seekers abroad per 100,000"),
    N_("conflict IDPs per 100,000"),
    N_("poverty and weak rule of law (modifier)"),
    # input family labels (figures.FAMILY_BY_NAME) as bar categories of the region page's change chart
    N_("Trafficking"),
    N_("Structural"),
    N_("Response"),
    N_("Hazard"),
    N_("Located crisis drivers {year}"),  # the map's title for one country (a label and its year)
    N_(  # the map's subtitle for one country's admin-1 units (figures.WATCH_ADMIN1's unit: target)
        "% of the country's located conflict deaths and displaced people: where the watch list's drivers are"
        " located"
    ),
    # the region page's latest data year per indicator family (warehouse.schema.FAMILIES), joined by ", "
    N_("displacement {year}"),
    N_("conflict {year}"),
    N_("trafficking {year}"),
    N_("detection {year}"),
    N_("structural {year}"),
    N_("response {year}"),
    N_("hazard {year}"),
    N_("geography {year}"),
    N_(  # pages/region.py writes it before a count of units
        "Where victims are found, downscaled: all {n} admin-1 units, {year} (detected victims per 100k,"
        " country estimate × exposure index). {count}"
    ),
)


def _(msgid: str, **values) -> str:
    """Translate ``msgid`` for the current request's language, then fill its named placeholders."""
    return translate(msgid, current_locale(), **values)


def _babel_locale(locale: str | None) -> Locale:
    return Locale.parse(normalise(locale) or current_locale())


MAX_DECIMALS = 12


def fmt_number(value, decimals: int = 1, locale: str | None = None) -> str:
    """A number with ``decimals`` decimals in the locale's digits and separators; '–' for a missing value.

    Digits follow Babel's locale data (its default numbering system): Latin digits for ``ar``, as CLDR has it.
    """
    if value is None or value != value:  # None or NaN
        return "–"
    if value in (float("inf"), float("-inf")):
        return "∞" if value > 0 else "-∞"
    decimals = max(0, min(int(decimals), MAX_DECIMALS))  # a tiny value asked with 30 decimals: Babel cannot
    babel_locale = _babel_locale(locale)
    pattern = copy.copy(babel_locale.decimal_formats[None])
    pattern.frac_prec = (decimals, decimals)
    with decimal.localcontext() as context:  # a very large value quantized to decimals needs the digits
        context.prec = 400
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


# --- the component trees and figures of Dash responses ------------------------------------------------------
# Pages write their static strings in English; they are translated here, in the JSON Dash sends (the shell
# from /_dash-layout, every page layout and callback output from /_dash-update-component): no page edit.
TEXT_PROPS = frozenset({"children", "placeholder", "title", "label", "alt", "aria-label"})
NO_TRANSLATE_CLASS = "notranslate"  # the class Google Translate and browsers honour too
NO_TRANSLATE_TYPES = frozenset({"Code", "Pre"})  # commands, code and ids stay as typed
_AXIS_KEY = re.compile(r"^[xy]axis\d*$|^coloraxis\d*$")
PAGES_STORE = "_pages_store"  # Dash Pages' store of the page title (document.title)


def lookup(text: str, messages: dict[str, str]) -> str:
    """The catalogue's translation of ``text``, keeping its surrounding spaces; ``text`` if it has none."""
    found = messages.get(text)
    if found is not None:
        return found
    stripped = text.strip()
    if stripped != text and stripped in messages:
        start = text.index(stripped[0])
        return text[:start] + messages[stripped] + text[start + len(stripped) :]
    return text


# A number as the English pages write it: 1,234.5 / -0.25 / 563,526 / 12% (a bare integer such as a year is
# left alone: "2 023" would be wrong).
_EN_NUMBER = re.compile(r"^(?P<sign>[+\-−]?)(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?P<pct>%?)$")


def _localise_number(text: str, locale: str) -> str | None:
    """``text`` re-written in ``locale`` when it is an English-formatted number with decimals, thousands
    separators or a percent sign; None otherwise."""
    match = _EN_NUMBER.match(text)
    if not match or not (match["frac"] or "," in match["int"] or match["pct"]):
        return None
    decimals = len(match["frac"] or "")
    value = float(match["int"].replace(",", "") + ("." + match["frac"] if match["frac"] else ""))
    sign = match["sign"]
    body = fmt_percent(value / 100, decimals, locale) if match["pct"] else fmt_number(value, decimals, locale)
    return ("+" if sign == "+" else "-" if sign in "-−" and sign else "") + body


def _pattern_regex(msgid: str, index: int) -> tuple[str, list[str]] | None:
    """A regex that matches the English text ``msgid`` makes once formatted, and its field names; None when
    ``msgid`` has no named placeholder (or a format spec, which the text would not show literally)."""
    import string

    parts, fields = [], []
    try:
        parsed = list(string.Formatter().parse(msgid))
    except ValueError:
        return None
    for literal, name, spec, _conversion in parsed:
        parts.append(re.escape(literal))
        if name is None:
            continue
        if not name.isidentifier() or spec:
            return None
        if name in fields:
            parts.append(f"(?P=p{index}_{fields.index(name)})")
        else:
            parts.append(f"(?P<p{index}_{len(fields)}>.+?)")
            fields.append(name)
    if not fields:
        return None
    return f"(?P<p{index}>{''.join(parts)})", fields


class Translator:
    """Translates visible strings into one language: the catalogue, then the catalogue's messages with
    placeholders matched against the English text (a page's f-string becomes a translated sentence with its
    values put back, numbers in the locale's format), then country names (Babel's, from the ISO code)."""

    CACHE_SIZE = 50_000

    def __init__(self, locale: str, messages: dict[str, str] | None = None) -> None:
        self.locale = locale
        self.messages = catalogue(locale) if messages is None else messages
        self.cache: dict[str, str] = {}
        candidates = [(msgid, msgstr) for msgid, msgstr in self.messages.items() if "{" in msgid]
        # the most specific first: more literal letters, then fewer placeholders
        candidates.sort(key=lambda p: (-_letters(p[0]), p[0].count("{")))
        # (msgid, msgstr, fields, compiled regex, the literal chunks a match must contain)
        self.patterns: list[tuple[str, str, list[str], re.Pattern, list[str]]] = []
        for msgid, msgstr in candidates:
            compiled = _pattern_regex(msgid, 0)
            literal = re.sub(r"\{\w*\}", "", msgid)
            if compiled is not None and (_letters(msgid) or (len(literal) >= 2 and literal.strip())):
                chunks = [c for c in re.split(r"\{\w*\}", msgid.replace("{{", "{").replace("}}", "}")) if c]
                self.patterns.append((msgid, msgstr, compiled[1], re.compile(compiled[0], re.S), chunks))

    def __call__(self, text: str) -> str:
        found = self.cache.get(text)
        if found is None:
            found = self._translate(text, 0, None, frozenset())
            if len(self.cache) > self.CACHE_SIZE:
                self.cache.clear()
            self.cache[text] = found
        return found

    def explain(self, text: str, keep: frozenset[str] = frozenset()) -> tuple[str, list[tuple[str, str]]]:
        """The translation and how it was made: ("message"|"pattern"|"number"|"country"|"missing", what).

        ``keep``: proper names that stay as written (a unit's name, a source id); a "missing" note is a
        piece with letters that nothing translated.
        """
        notes: list[tuple[str, str]] = []
        return self._translate(text, 0, notes, keep), notes

    def _translate(self, text: str, depth: int, notes: list | None, keep: frozenset[str]) -> str:
        stripped = text.strip()
        if not stripped:
            return text
        found = self._resolve(stripped, depth, notes, keep)
        if found is None:
            if notes is not None and stripped not in keep and not _NO_LETTERS.match(stripped):
                notes.append(("missing", stripped))
            return text
        start = text.index(stripped[0])
        return text[:start] + found + text[start + len(stripped) :]

    def _resolve(self, text: str, depth: int, notes: list | None, keep: frozenset[str]) -> str | None:
        found, kind = self.messages.get(text), "message"
        if found is None:
            found, kind = _localise_number(text, self.locale), "number"
        if found is None:
            found, kind = country_names(self.locale).get(text), "country"
        if found is None and (text in keep or text in region_names_kept()):
            found, kind = text, "kept"
        if found is None and "<br><sub>" in text and text.endswith("</sub>") and depth < 6:
            found, kind = self._subtitled(text, depth, notes, keep), "subtitled"
        elif found is None and "<br>" in text and "<br><sub>" not in text:
            found, kind = self._rewrapped(text, depth, notes, keep), "wrapped"
        if found is None and depth < 6:
            return self._pattern(text, depth, notes, keep)
        if found is not None and notes is not None:
            notes.append((kind, text))
        return found

    MAX_CANDIDATES = 12

    def _subtitled(self, text: str, depth: int, notes: list | None, keep: frozenset[str]) -> str | None:
        """A figure title with a subtitle ("title<br><sub>subtitle</sub>"): each translated on its own."""
        head, _, sub = text.partition("<br><sub>")
        sub_notes: list[tuple[str, str]] = []
        parts = [self._translate(part, depth + 1, sub_notes, keep) for part in (head, sub[: -len("</sub>")])]
        if any(kind == "missing" for kind, _ in sub_notes):
            return None
        if notes is not None:
            notes.extend(sub_notes)
        return f"{parts[0]}<br><sub>{parts[1]}</sub>"

    def _rewrapped(self, text: str, depth: int, notes: list | None, keep: frozenset[str]) -> str | None:
        """A title a figure builder wrapped at some width ("<br>" between words): translated unwrapped, then
        wrapped again at about the same width."""
        lines = text.split("<br>")
        unwrapped = " ".join(line.strip() for line in lines)
        sub_notes: list[tuple[str, str]] = []
        translated = self._translate(unwrapped, depth + 1, sub_notes, keep)
        if any(kind == "missing" for kind, _ in sub_notes):
            return None
        if notes is not None:
            notes.extend(sub_notes)
        width = max(len(line) for line in lines)
        out, line = [], ""
        for word in translated.split(" "):
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        return "<br>".join([*out, line])

    def _pattern(self, text: str, depth: int, notes: list | None, keep: frozenset[str]) -> str | None:
        """The best message with placeholders for ``text``: of those that match, the one that leaves the
        fewest pieces untranslated, then the one with the most literal words."""
        best: tuple[tuple[int, int], str, list] | None = None
        tried = 0
        for msgid, msgstr, fields, regex, chunks in self.patterns:
            if not all(chunk in text for chunk in chunks):
                continue
            match = regex.fullmatch(text)
            if match is None:
                continue
            if any(_unbalanced(match[f"p0_{k}"]) for k in range(len(fields))):
                continue  # "2022); 83,000 IDPs (2022" is no value: the match cut through brackets
            sub_notes: list[tuple[str, str]] = [("pattern", msgid)]
            values = {
                name: self._translate(match[f"p0_{k}"], depth + 1, sub_notes, keep)
                for k, name in enumerate(fields)
            }
            try:
                result = msgstr.format(**values)
            except (KeyError, IndexError, ValueError):
                continue
            missing = sum(sum(ch.isalpha() for ch in what) for kind, what in sub_notes if kind == "missing")
            if missing > 3 * _letters(msgid):
                continue  # mostly untranslated pieces: a chance match, not this message
            score = (missing, -_letters(msgid))
            if best is None or score < best[0]:
                best = (score, result, sub_notes)
            tried += 1
            if score[0] == 0 or tried >= self.MAX_CANDIDATES:
                break
        if best is None:
            return None
        if notes is not None:
            notes.extend(best[2])
        return best[1]


def _unbalanced(text: str) -> bool:
    """A bracket closes before it opens, or stays open: the text was cut in the wrong place."""
    depth = 0
    for ch in text:
        depth += (ch in "([") - (ch in ")]")
        if depth < 0:
            return True
    return depth != 0


def _letters(msgid: str) -> int:
    """How many letters a message has outside its placeholders (how specific it is)."""
    return sum(ch.isalpha() for ch in re.sub(r"\{\w*\}", "", msgid))


_NO_LETTERS = re.compile(r"^[\W\d_]*$")


_TRANSLATORS: dict[str, Translator] = {}


def translator(locale: str) -> Translator:
    """The translator of ``locale`` (built once per process, after the catalogue is read)."""
    found = _TRANSLATORS.get(locale)
    if found is None:
        with _LOCK:
            found = _TRANSLATORS.get(locale)
        if found is None:
            found = _TRANSLATORS[locale] = Translator(locale)
    return found


def country_names(locale: str) -> dict[str, str]:
    """English country name (as the warehouse has it) -> the name in ``locale`` (CLDR's, through Babel).

    Read from the serving app's warehouse (its ISO3 region ids); empty outside an app context.
    """
    from flask import has_app_context

    if locale == DEFAULT_LANGUAGE or not has_app_context():
        return {}
    from dashboard import context

    queries = context.queries()
    # kept on the Queries object itself: a cache keyed by id(queries) handed one warehouse's names to another
    # whose Queries object reused a freed id (seen with many apps in one test process)
    per_locale = queries.__dict__.setdefault("_country_names_by_locale", {})
    if locale not in per_locale:
        per_locale[locale] = _country_names(queries.region_names(), locale)
    return per_locale[locale]


def region_names_kept() -> frozenset[str]:
    """The serving warehouse's region names: an admin-1 unit keeps its own name in every language, so a
    title such as "Trend: ... in Borno State" is translated around it (empty outside an app context)."""
    from flask import has_app_context

    if not has_app_context():
        return frozenset()
    from dashboard import context

    queries = context.queries()
    names = queries.__dict__.get("_region_names_kept")  # on the Queries object, as country_names
    if names is None:
        names = frozenset(str(n) for n in queries.region_names().values() if n)
        queries.__dict__["_region_names_kept"] = names
    return names


def _country_names(names: dict[str, str], locale: str) -> dict[str, str]:
    from etl.countries import _country_api

    territories = Locale.parse(locale).territories
    country = _country_api()
    result = {}
    for region_id, name in names.items():
        if len(region_id) != 3 or not region_id.isalpha():
            continue  # an admin-1 unit keeps its own name
        iso2 = "XK" if region_id == "XKX" else country.get_iso2_from_iso3(region_id, use_live=False)
        local = territories.get(iso2) if iso2 else None
        if local and name:
            result[str(name)] = local
    return result


def _is_component(node) -> bool:
    return isinstance(node, dict) and "props" in node and "type" in node and "namespace" in node


def _skipped(node: dict) -> bool:
    props = node.get("props") or {}
    classes = str(props.get("className") or "").split()
    return NO_TRANSLATE_CLASS in classes or (
        node.get("namespace") == "dash_html_components" and node.get("type") in NO_TRANSLATE_TYPES
    )


class TreeWalker:
    """Visits every visible string of Dash JSON and replaces it by ``visit(text, where)``'s answer.

    ``where`` says what the string is (``children``, ``placeholder``, ``figure.title`` ...), for the
    missing-string test and the extraction. Data (table cells, figure values, ids, styles) is never visited.
    """

    def __init__(self, visit):
        self.visit = visit

    def text(self, value, where: str):
        return self.visit(value, where) if isinstance(value, str) and value.strip() else value

    def component(self, node: dict) -> dict:
        if _skipped(node):
            return node
        props = node.get("props") or {}
        for prop, value in list(props.items()):
            props[prop] = self.prop(prop, value, str(node.get("type")))
        return node

    def value(self, value, where: str = "children"):
        """A component, a list of components and strings (children), or a string."""
        if _is_component(value):
            return self.component(value)
        if isinstance(value, list):
            return [self.value(item, where) for item in value]
        if isinstance(value, str):
            return self.text(value, where)
        return value

    def nested(self, value):
        """A prop that is not text: only components inside it are visited (never plain data)."""
        if _is_component(value):
            return self.component(value)
        if isinstance(value, list) and any(_is_component(item) for item in value):
            return [self.component(item) if _is_component(item) else item for item in value]
        return value

    def prop(self, prop: str, value, kind: str = ""):  # noqa: C901 - one branch per kind of prop
        if isinstance(value, dict) and value.get("__dash_patch_update"):
            return self.patch(prop, value)
        if prop in TEXT_PROPS:
            return self.value(value, prop)
        if prop == "options" and isinstance(value, list):
            return [self.option(item) for item in value]
        if prop == "columns" and isinstance(value, list):
            return [self.column(item) for item in value]
        if prop == "figure" and isinstance(value, dict):
            return self.figure(value)
        if prop == "marks" and isinstance(value, dict):
            return {k: self.mark(v) for k, v in value.items()}
        if prop == "data" and kind == PAGES_STORE and isinstance(value, dict):
            return {**value, "title": self.text(value.get("title"), "document.title")}
        return self.nested(value)

    def option(self, item):
        if isinstance(item, dict) and "label" in item:
            return {**item, "label": self.value(item["label"], "option")}
        return item  # a bare string option is its own value: translating it would change the value

    def column(self, item):
        if isinstance(item, dict) and "name" in item:
            name = item["name"]
            if isinstance(name, list):  # a multi-row header
                return {**item, "name": [self.text(n, "column") for n in name]}
            return {**item, "name": self.text(name, "column")}
        return item

    def mark(self, mark):
        if isinstance(mark, dict) and "label" in mark:
            return {**mark, "label": self.text(mark["label"], "mark")}
        return self.text(mark, "mark")

    def title(self, title, where: str):
        if isinstance(title, dict) and "text" in title:
            return {**title, "text": self.text(title["text"], where)}
        return self.text(title, where)

    def figure(self, figure: dict) -> dict:
        layout = figure.get("layout")
        if isinstance(layout, dict):
            self.figure_layout(layout)
        for trace in figure.get("data") or []:
            if isinstance(trace, dict):
                self.trace(trace)
        return figure

    def figure_layout(self, layout: dict) -> None:
        if "title" in layout:
            layout["title"] = self.title(layout["title"], "figure.title")
        for key, axis in layout.items():
            if _AXIS_KEY.match(key) and isinstance(axis, dict):
                if "title" in axis:
                    axis["title"] = self.title(axis["title"], "figure.axis")
                colorbar = axis.get("colorbar")
                if isinstance(colorbar, dict) and "title" in colorbar:
                    colorbar["title"] = self.title(colorbar["title"], "figure.colorbar")
        legend = layout.get("legend")
        if isinstance(legend, dict) and "title" in legend:
            legend["title"] = self.title(legend["title"], "figure.legend")
        for note in layout.get("annotations") or []:
            if isinstance(note, dict) and "text" in note:
                note["text"] = self.text(note["text"], "figure.annotation")

    def trace(self, trace: dict) -> None:
        if "name" in trace:
            trace["name"] = self.text(trace["name"], "figure.trace")
        for holder in (trace, trace.get("marker") if isinstance(trace.get("marker"), dict) else {}):
            colorbar = holder.get("colorbar")
            if isinstance(colorbar, dict) and "title" in colorbar:
                colorbar["title"] = self.title(colorbar["title"], "figure.colorbar")
        group = trace.get("legendgrouptitle")
        if isinstance(group, dict) and "text" in group:
            group["text"] = self.text(group["text"], "figure.legend")

    def patch(self, prop: str, patch: dict) -> dict:
        """A ``dash.Patch``: an assigned value is visited as what its location holds (a figure title ...)."""
        for operation in patch.get("operations") or []:
            params = operation.get("params") if isinstance(operation, dict) else None
            if not isinstance(params, dict) or "value" not in params:
                continue
            location = [str(part) for part in operation.get("location") or []]
            value = params["value"]
            if prop == "figure":
                if location[-1:] == ["text"] or "title" in location[-1:]:
                    params["value"] = self.title(value, "figure.title")
                elif location[-1:] == ["name"]:
                    params["value"] = self.text(value, "figure.trace")
            elif not location or location[-1] in TEXT_PROPS or location[-1].isdigit():
                params["value"] = self.value(value, prop)
        return patch

    def response(self, body: dict) -> dict:
        """A callback answer: {"multi": true, "response": {component id: {prop: value}}}."""
        outputs = body.get("response")
        if isinstance(outputs, dict):
            for component_id, props in outputs.items():
                if not isinstance(props, dict):
                    continue
                kind = PAGES_STORE if component_id == PAGES_STORE else ""
                for prop, value in list(props.items()):
                    props[prop] = self.prop(prop, value, kind)
        side = body.get("sideUpdate")
        if isinstance(side, dict):
            for props in side.values():
                if isinstance(props, dict):
                    for prop, value in list(props.items()):
                        props[prop] = self.prop(prop, value)
        return body


def translate_tree(node, locale: str):
    """Translate a component tree, a callback answer or a figure in place (JSON form) and return it."""
    if locale == DEFAULT_LANGUAGE:
        return node
    translate_text = translator(locale)
    walker = TreeWalker(lambda text, _where: translate_text(text))
    if isinstance(node, dict) and "response" in node:
        return walker.response(node)
    return walker.value(node)


def visible_strings(node) -> list[tuple[str, str]]:
    """Every visible string of a component tree or callback answer (JSON form), with what it is."""
    found: list[tuple[str, str]] = []

    def keep(text: str, where: str) -> str:
        found.append((text, where))
        return text

    walker = TreeWalker(keep)
    node = json.loads(json.dumps(node))  # never change the caller's tree
    if isinstance(node, dict) and "response" in node:
        walker.response(node)
    else:
        walker.value(node)
    return found


def to_json_data(value):
    """A Dash component, figure or callback answer as the JSON data Dash sends."""
    from plotly.io.json import to_json_plotly

    return json.loads(to_json_plotly(value))


# --- the app: language of the document, the remembered choice, translated answers ---------------------------
DASH_JSON_PATHS = ("/_dash-layout", "/_dash-update-component")
COOKIE_MAX_AGE_S = 365 * 24 * 3600


def html_attributes(locale: str) -> str:
    """The ``<html>`` attributes of a page in ``locale``: its language and its direction."""
    return f'lang="{locale}" dir="{"rtl" if locale in RTL_LANGUAGES else "ltr"}"'


def localise_index(index_html: str, locale: str) -> str:
    """The page shell in ``locale``: ``lang``/``dir`` on ``<html>`` (right on first paint, before any script),
    the document title translated."""
    index_html = re.sub(r"<html(?=[\s>])[^>]*>", f"<html {html_attributes(locale)}>", index_html, count=1)
    return re.sub(
        r"<title>(.*?)</title>",
        lambda m: f"<title>{lookup(m.group(1), catalogue(locale)) if locale != 'en' else m.group(1)}</title>",
        index_html,
        count=1,
        flags=re.S,
    )


def _translate_response(response, locale: str):
    """Translate a Dash JSON answer (layout or callback) in place; a body it cannot read is left as it is."""
    if response.direct_passthrough or response.is_streamed or response.mimetype != "application/json":
        return response
    if response.headers.get("Content-Encoding"):
        return response
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return response
    response.set_data(json.dumps(translate_tree(body, locale), ensure_ascii=False, separators=(",", ":")))
    return response


def install(app) -> None:
    """Make ``app`` multilingual: ``lang``/``dir`` in the served page, the ``?lang=`` choice kept in a cookie,
    and the Dash layout and callback answers translated for the request's language.

    Call it after any after_request hook that compresses answers was registered: Flask runs these hooks in
    reverse order, so the translation sees the plain JSON.
    """
    from flask import request

    plain_index = app.interpolate_index

    def interpolate_index(**parts):
        return localise_index(plain_index(**parts), current_locale())

    app.interpolate_index = interpolate_index

    @app.server.after_request
    def _localise(response):
        chosen = normalise(request.args.get(QUERY_PARAMETER))
        if chosen and request.cookies.get(COOKIE_NAME) != chosen:
            response.set_cookie(COOKIE_NAME, chosen, max_age=COOKIE_MAX_AGE_S, samesite="Lax", httponly=True)
        if response.mimetype == "text/html" or request.path in DASH_JSON_PATHS:
            response.vary.update(("Cookie", "Accept-Language"))
            locale = current_locale()
            response.headers["Content-Language"] = locale
            if locale != DEFAULT_LANGUAGE and request.path in DASH_JSON_PATHS:
                _translate_response(response, locale)
        return response


def language_switch() -> html.Nav:
    """The header's language links: each language named in itself, a plain link that reloads the page in it
    (``?lang=xx``; ``assets/i18n.js`` keeps the rest of the query string)."""
    locale = current_locale()
    return html.Nav(
        className="lang-switch notranslate",
        **{"aria-label": "Language"},
        children=[
            html.A(
                LANGUAGE_NAMES[code],
                href=f"?{QUERY_PARAMETER}={code}",
                lang=code,
                dir="rtl" if code in RTL_LANGUAGES else "ltr",
                hrefLang=code,
                className="lang-link" + (" lang-current" if code == locale else ""),
                **({"aria-current": "true"} if code == locale else {}),
            )
            for code in LANGUAGES
        ],
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m dashboard.i18n extract|check``: see dashboard/i18n_catalogue.py and docs/I18N.md."""
    import argparse

    from dashboard import i18n_catalogue

    parser = argparse.ArgumentParser(prog="python -m dashboard.i18n", description=main.__doc__)
    parser.add_argument("command", choices=("extract", "check"))
    parser.add_argument("--login", metavar="NAME:PASSWORD", help="also render the pages of a signed-in admin")
    parser.add_argument(
        "--database-url", action="append", default=[], help="also render over this warehouse (repeatable)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("dashboard.i18n_catalogue").setLevel(logging.INFO)
    if args.command == "extract":
        login = tuple(args.login.split(":", 1)) if args.login else None
        report = i18n_catalogue.extract(login, args.database_url)  # type: ignore[arg-type]
    else:
        report = {lang: i18n_catalogue.counts(i18n_catalogue.read_catalogue(lang)) for lang in LANGUAGES[1:]}
    for lang, numbers in report.items():
        done, total, obsolete = numbers["translated"], numbers["messages"], numbers["obsolete"]
        print(f"{lang}: {done} of {total} translated, {obsolete} obsolete")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
