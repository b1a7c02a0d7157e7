"""Keeping the message catalogues complete: what the dashboard shows, found by rendering it, merged into the
.po files.

Most visible strings are plain English literals in the pages (children, titles, option labels, column names):
no ``_()`` marks them, so pybabel alone would not see them. So the extraction renders the app as a browser
would: the shell, every page, and every callback a page load fires with the values the page starts with, and
collects every visible string of the answers (``i18n.visible_strings``). Strings written with ``_()`` or
``translate()`` (those with placeholders, those of figures and of the PDF brief) are read from the source
with Babel's Python extractor. Both go into ``messages.pot``; each language's ``messages.po`` is then updated
from it (new entries empty, gone ones kept as obsolete ``#~`` entries so a translation is never lost).

    python -m dashboard.i18n extract            # renders over CRISISRISK_DATA_DIR's warehouse
    python -m dashboard.i18n check              # how many messages each language lacks
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dashboard import i18n

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
POT_PATH = i18n.TRANSLATIONS / f"{i18n.DOMAIN}.pot"
SOURCE_KEYWORDS = {"_": None, "translate": (1,), "gettext": (1,), "N_": None}
PAGES_CALLBACK = "_pages_content.children"
# A visible string with no letters (numbers, dates in digits, units, punctuation) has nothing to translate.
NO_LETTERS = re.compile(r"^[\W\d_]*$", re.UNICODE)


@dataclass
class Visible:
    """One visible string, where it was seen (page and component or callback) and what it is."""

    text: str
    where: str
    source: str


@dataclass
class Crawl:
    """Everything a crawl saw, and the callbacks it could not fire (with why), for the report."""

    strings: list[Visible] = field(default_factory=list)
    callbacks_fired: int = 0
    skipped: list[str] = field(default_factory=list)


def _outputs(key: str) -> list[tuple[str, str]]:
    """(id, property) of each output of a callback-map key such as ``..a.children...b.figure@hash..``."""
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    result = []
    for part in parts:
        component_id, prop = part.rsplit(".", 1)
        result.append((component_id, prop.split("@", 1)[0]))
    return result


def _id_key(component_id) -> str:
    """The id as Dash writes it in callback specs: a string, or sorted compact JSON for a dict id."""
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return str(component_id)


class Values:
    """The current value of every (component id, property) seen in rendered trees and callback answers."""

    def __init__(self) -> None:
        self.props: dict[str, dict] = {}
        self.ids: dict[str, object] = {}  # id key -> the id itself (a dict for pattern-matching ids)

    def add_tree(self, node) -> None:
        if isinstance(node, list):
            for item in node:
                self.add_tree(item)
            return
        if not isinstance(node, dict):
            return
        if "props" in node and "type" in node:
            props = node.get("props") or {}
            if "id" in props:
                key = _id_key(props["id"])
                self.ids[key] = props["id"]
                self.props.setdefault(key, {}).update(props)
            for value in props.values():
                if isinstance(value, (dict, list)):
                    self.add_tree(value)

    def set(self, component_id: str, prop: str, value) -> None:
        parsed = json.loads(component_id) if component_id.startswith("{") else component_id
        component_id = _id_key(parsed)
        self.props.setdefault(component_id, {})[prop] = value
        self.ids.setdefault(component_id, parsed)
        if isinstance(value, (dict, list)):
            self.add_tree(value)

    def matching(self, spec_id: str) -> list[str] | None:
        """Concrete id keys for an id spec: itself, or every id matching an ``ALL`` pattern; None: unseen."""
        if not spec_id.startswith("{"):
            return [spec_id] if spec_id in self.ids else None
        pattern = json.loads(spec_id)
        fixed = {k: v for k, v in pattern.items() if not isinstance(v, list)}
        if any(v != ["ALL"] for v in pattern.values() if isinstance(v, list)):
            return None  # MATCH / ALLSMALLER need a triggering component: not fired by a page load
        found = [
            key
            for key, cid in self.ids.items()
            if isinstance(cid, dict)
            and set(cid) == set(pattern)
            and all(cid[k] == v for k, v in fixed.items())
        ]
        return found

    def entry(self, spec: dict) -> dict | list | None:
        keys = self.matching(spec["id"])
        if keys is None:
            return None
        prop = spec["property"]
        entries = [
            {"id": self.ids[k], "property": prop, "value": self.props.get(k, {}).get(prop)} for k in keys
        ]
        return entries if spec["id"].startswith("{") else entries[0]


class Crawler:
    """Fires a page load's callbacks against a Flask test client, in the language of its cookie."""

    def __init__(self, app, locale: str, login: tuple[str, str] | None = None) -> None:
        self.app = app
        self.locale = locale
        self.client = app.server.test_client()
        self.client.set_cookie(i18n.COOKIE_NAME, locale)
        self.initial = {c["output"]: bool(c.get("prevent_initial_call")) for c in app._callback_list}  # noqa: SLF001
        if login:
            self._login(*login)

    def _login(self, name: str, password: str) -> None:
        from dashboard import auth

        form = self.client.get("/login").get_data(as_text=True)
        token = re.search(rf'name="{auth.CSRF_FIELD}" value="([^"]*)"', form)
        data = {"name": name, "password": password, "next": "/"}
        data[auth.CSRF_FIELD] = token.group(1) if token else ""
        response = self.client.post("/login", data=data)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"could not sign in as {name} to render the admin pages: {response.status}")

    def _headers(self) -> dict:
        from dashboard import auth

        cookie = self.client.get_cookie(auth.CSRF_COOKIE)
        return {"X-CSRFToken": cookie.value} if cookie else {}

    def post(
        self, key: str, inputs: list, state: list, changed: list[str], values: Values | None = None
    ) -> dict | None:
        outputs = []
        for component_id, prop in _outputs(key):
            if component_id.startswith("{") and values is not None:  # ALL: one entry per matching component
                keys = values.matching(component_id) or []
                outputs.append([{"id": values.ids[k], "property": prop} for k in keys])
            else:
                outputs.append({"id": component_id, "property": prop})
        payload = {
            "output": key,
            "outputs": outputs if key.startswith("..") else outputs[0],
            "inputs": inputs,
            "state": state,
            "changedPropIds": changed,
        }
        response = self.client.post("/_dash-update-component", json=payload, headers=self._headers())
        if response.status_code == 204:  # PreventUpdate
            return None
        if response.status_code != 200:
            raise RuntimeError(
                f"callback {key[:80]} answered {response.status_code}: {response.data[:200]!r}"
            )
        return response.get_json()

    def layout(self) -> dict:
        return self.client.get("/_dash-layout").get_json()

    def page(self, path: str, crawl: Crawl) -> None:
        """Render ``path`` as a page load does: the page layout, then the callbacks it fires, in rounds."""
        values = Values()
        shell = self.layout()
        values.add_tree(shell)
        pages_key = next(k for k in self.app.callback_map if PAGES_CALLBACK in k)
        pathname, _, search = path.partition("?")
        spec = self.app.callback_map[pages_key]
        given = {"pathname": pathname, "search": f"?{search}" if search else ""}
        inputs = [{**s, "value": given.get(s["property"])} for s in spec["inputs"]]
        state = [values.entry(s) or {**s, "value": None} for s in spec.get("state", [])]
        answer = self.post(pages_key, inputs, state, [f"{s['id']}.{s['property']}" for s in spec["inputs"]])
        crawl.strings += [Visible(t, w, f"{path} page") for t, w in i18n.visible_strings(answer or {})]
        for component_id, props in ((answer or {}).get("response") or {}).items():
            for prop, value in props.items():
                values.set(component_id, prop, value)
        self._fire(path, values, crawl, skip={pages_key})

    def _ready(self, values: Values, done: set[str]) -> list[str]:
        pending = [
            k
            for k, spec in self.app.callback_map.items()
            if k not in done and "callback" in spec and not self.initial.get(k, False)  # no clientside ones
        ]
        waiting_outputs = set()
        ready = []
        for key in pending:
            spec = self.app.callback_map[key]
            if all(values.matching(s["id"]) for s in spec["inputs"]):
                ready.append(key)
                waiting_outputs.update(f"{i}.{p}" for i, p in _outputs(key))
        # as the renderer does: a callback whose input another ready callback still writes waits for it
        return [
            k
            for k in ready
            if not any(
                f"{s['id']}.{s['property']}" in waiting_outputs for s in self.app.callback_map[k]["inputs"]
            )
        ] or ready

    def _fire(self, path: str, values: Values, crawl: Crawl, skip: set[str]) -> None:
        done = set(skip)
        for _round in range(6):
            ready = self._ready(values, done)
            if not ready:
                return
            for key in ready:
                done.add(key)
                spec = self.app.callback_map[key]
                inputs = [values.entry(s) for s in spec["inputs"]]
                state = [values.entry(s) or {**s, "value": None} for s in spec.get("state", [])]
                try:
                    answer = self.post(key, inputs, state, [], values)
                except RuntimeError as exc:
                    crawl.skipped.append(f"{path}: {exc}")
                    continue
                crawl.callbacks_fired += 1
                if answer is None:
                    continue
                crawl.strings += [
                    Visible(t, w, f"{path} {key[:60]}") for t, w in i18n.visible_strings(answer)
                ]
                for component_id, props in (answer.get("response") or {}).items():
                    for prop, value in props.items():
                        values.set(component_id, prop, value)


def page_paths(sample_region: str) -> list[str]:
    """Every page of the registry once, a page with a path variable with ``sample_region``."""
    import dash

    paths = []
    for page in dash.page_registry.values():
        template = page.get("path_template")
        if template:
            paths.append(re.sub(r"<[^>]+>", sample_region, template))
        elif page["module"].rsplit(".", 1)[-1] != "not_found_404":
            paths.append(page["path"])
    return paths + ["/no-such-page"]  # the 404 page


def crawl_app(app, locale: str, paths: Iterable[str], login: tuple[str, str] | None = None) -> Crawl:
    """Every visible string the pages at ``paths`` show on load in ``locale`` (shell included)."""
    crawler = Crawler(app, locale, login)
    crawl = Crawl()
    crawl.strings += [Visible(t, w, "shell") for t, w in i18n.visible_strings(crawler.layout())]
    for path in paths:
        crawler.page(path, crawl)
    return crawl


# --- the catalogues -----------------------------------------------------------------------------------------
def source_messages(root: Path = PACKAGE) -> list[tuple[str, str, int, list[str]]]:
    """(msgid, file, line, comments) of every ``_("...")`` / ``translate("...")`` in the dashboard."""
    from babel.messages.extract import extract_from_dir

    found = []
    for filename, lineno, message, comments, _context in extract_from_dir(
        str(root), method_map=[("**.py", "python")], keywords=SOURCE_KEYWORDS, comment_tags=("i18n:",)
    ):
        if isinstance(message, str) and message.strip():
            found.append((message, filename, lineno, list(comments)))
    return found


def needs_translation(text: str) -> bool:
    return not NO_LETTERS.match(text)


SCAN_EXCLUDE = ("i18n.py", "i18n_catalogue.py")  # this machinery's own f-strings are never shown


def _placeholder_name(node: ast.expr) -> str:
    """A readable placeholder for an f-string's expression: ``{run}`` for ``run``, ``{name}`` for
    ``row["name"]`` or ``row.name``; ``{value}`` when nothing better is at hand."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return re.sub(r"\W", "_", str(node.slice.value)).strip("_") or "value"
    if isinstance(node, ast.Call):
        return _placeholder_name(node.args[0]) if node.args else _placeholder_name(node.func)
    return "value"


def _fstring_msgids(node: ast.JoinedStr) -> list[str]:
    """The messages an f-string can show: one, or one per branch of ``{'' if c else ': drivers only'}``
    (a conditional between two literals is inlined, so each variant is a sentence of its own)."""
    variants: list[tuple[list[str], list[str]]] = [([], [])]  # (parts, placeholder names)
    for value in node.values:
        if isinstance(value, ast.Constant):
            text = str(value.value).replace("{", "{{").replace("}", "}}")
            variants = [(parts + [text], names) for parts, names in variants]
            continue
        if not isinstance(value, ast.FormattedValue):
            continue
        branches = _literal_branches(value.value)
        if branches and len(variants) * len(branches) <= 8:
            variants = [
                (parts + [b.replace("{", "{{").replace("}", "}}")], names)
                for parts, names in variants
                for b in branches
            ]
            continue
        name = _placeholder_name(value.value)
        name = name if name.isidentifier() and not name.startswith("_") else "value"
        grown = []
        for parts, names in variants:
            unique, n = name, 2
            while unique in names:
                unique, n = f"{name}{n}", n + 1
            grown.append((parts + ["{" + unique + "}"], names + [unique]))
        variants = grown
    result = []
    for parts, names in variants:
        literal = "".join(p for p in parts if not p.startswith("{") or p.startswith("{{"))
        if names and literal.strip():  # "{a} {b}" would match any text with a space
            result.append("".join(parts).strip())
    return result


def _literal_branches(node: ast.expr) -> list[str] | None:
    if (
        isinstance(node, ast.IfExp)
        and isinstance(node.body, ast.Constant)
        and isinstance(node.orelse, ast.Constant)
        and isinstance(node.body.value, str)
        and isinstance(node.orelse.value, str)
    ):
        return [node.body.value, node.orelse.value]
    return None


def source_scan(root: Path = PACKAGE) -> tuple[list[tuple[str, str, int]], set[str]]:
    """The dashboard's f-strings as messages with placeholders (file, line), and its string constants.

    An f-string pattern enters the catalogue only when a rendered string matched it (see
    ``build_template``), so ids, URLs and log lines written as f-strings stay out.
    """
    patterns, constants = [], set()
    # the models write verdicts and descriptions the pages show
    files = sorted(root.rglob("*.py")) + sorted((root.parent / "models").rglob("*.py"))
    for path in files:
        if path.name in SCAN_EXCLUDE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                for msgid in _fstring_msgids(node):
                    patterns.append((msgid, str(path.relative_to(root.parent)), node.lineno))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value.strip())
    return patterns, constants


def unwrapped(text: str) -> str:
    """A title a figure builder wrapped at some width ("<br>" between words): its words are the message."""
    if "<br>" in text and "<br><sub>" not in text:
        return " ".join(line.strip() for line in text.split("<br>"))
    return text


def build_template(crawled: Iterable[Visible], sourced, keep: Iterable[str] = (), root: Path = PACKAGE):
    """The .pot catalogue: the source's ``_()`` messages, the f-string patterns that rendered strings
    matched, and every other rendered string with letters (with where it was seen).

    A rendered string that is also a literal in the source is a message of its own even when a pattern
    matches it too (the exact message is looked up first at run time).
    """
    from babel.messages.catalog import Catalog

    template = Catalog(project="crisisrisk", domain=i18n.DOMAIN, charset="utf-8")
    fstrings, constants = source_scan(root)
    marked = {msgid for msgid, *_rest in sourced}
    pool = {m: m for m in marked} | {m: m for m, *_rest in fstrings}
    matcher = i18n.Translator("en", messages=pool)
    keep = frozenset(keep) | frozenset(ALLOWED)
    used: set[str] = set()
    for item in crawled:
        text = unwrapped(item.text.strip())
        if not needs_translation(text) or text in keep or not_for_translation(text):
            continue
        if text in constants or text in marked:
            _add(template, text, item)
            continue
        _translated, notes = matcher.explain(text, keep)
        used.update(what for kind, what in notes if kind == "pattern")
        for kind, what in notes:
            if kind == "missing":
                _add(template, what, item)
    for msgid, filename, lineno in fstrings:
        if msgid in used and msgid not in marked:
            message = template.get(msgid) or template.add(msgid, auto_comments=["f-string matched on screen"])
            message.locations.append((f"dashboard/{filename}" if "/" not in filename else filename, lineno))
            message.flags.add("python-brace-format")
    for msgid, filename, lineno, comments in sourced:
        message = template.get(msgid)
        if message is None:
            message = template.add(
                msgid, locations=[(f"dashboard/{filename}", lineno)], auto_comments=comments
            )
        elif (f"dashboard/{filename}", lineno) not in message.locations:
            message.locations.append((f"dashboard/{filename}", lineno))
        if "{" in msgid:
            message.flags.add("python-brace-format")
    return template


def _add(template, text: str, item: Visible) -> None:
    if not needs_translation(text) or not_for_translation(text):
        return
    message = template.get(text)
    comment = f"{item.source} ({item.where})"
    if message is None:
        template.add(text, auto_comments=[comment])
    elif len(message.auto_comments) < 3 and comment not in message.auto_comments:
        message.auto_comments.append(comment)


def proper_names(app) -> frozenset[str]:
    """Strings that stay as written in every language: the warehouse's region names (a country's own
    name is translated at run time from CLDR; admin-1 units keep theirs), source ids and the model run."""
    from dashboard.context import EXTENSION

    queries = app.server.extensions[EXTENSION].queries
    with app.server.app_context():
        names = set(queries.region_names().values())
        run = queries.run_id
        codes = set(queries.region_names())
    from etl.sources import all_sources

    sources = {source.name for source in all_sources()}
    return frozenset(str(n) for n in names | codes | sources if n) | ({run} if run else set())


def write_catalogues(template, languages: Iterable[str] = i18n.LANGUAGES[1:]) -> dict[str, dict]:
    """Write messages.pot and merge it into each language's messages.po; counts per language."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    POT_PATH.parent.mkdir(parents=True, exist_ok=True)
    with POT_PATH.open("wb") as handle:
        write_po(handle, template, width=110, sort_output=True, omit_header=False)
    report = {}
    for locale in languages:
        path = i18n.TRANSLATIONS / locale / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalogue = read_po(handle, locale=locale)
        else:
            catalogue = Catalog(locale=locale, project="crisisrisk", domain=i18n.DOMAIN, charset="utf-8")
        catalogue.update(template, no_fuzzy_matching=True, update_header_comment=False)
        # an obsolete entry is kept only when it holds a translation (the string may come back)
        catalogue.obsolete = {k: m for k, m in catalogue.obsolete.items() if m.string}
        with path.open("wb") as handle:
            write_po(handle, catalogue, width=110, sort_output=True, include_previous=False)
        report[locale] = counts(catalogue)
    i18n.reload_catalogues()
    return report


def counts(catalogue) -> dict:
    messages = [m for m in catalogue if m.id]
    return {
        "messages": len(messages),
        "translated": sum(1 for m in messages if m.string and not m.fuzzy),
        "obsolete": len(catalogue.obsolete),
    }


def read_catalogue(locale: str):
    from babel.messages.pofile import read_po

    with (i18n.TRANSLATIONS / locale / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def sample_region(app) -> str:
    """A country with a region page to render (Nigeria when the warehouse has it)."""
    from dashboard.context import EXTENSION

    names = app.server.extensions[EXTENSION].queries.region_names()
    return "NGA" if "NGA" in names or not names else sorted(names)[0]


def extract(login: tuple[str, str] | None = None, database_urls: Iterable[str] = ()) -> dict[str, dict]:
    """Render the app over the configured warehouse (and over each of ``database_urls``: the test
    warehouse shows states a full one does not, such as "no model for scenarios"), anonymous and signed in,
    read the source, rewrite the catalogues."""
    from dashboard.app import create_app
    from warehouse.db import make_engine

    strings: list[Visible] = []
    keep: frozenset[str] = frozenset()
    engines = [None] + [make_engine(url) for url in database_urls]
    for engine in engines:
        app = create_app(engine, config={"public_read": True, "cache_ttl_s": 60})
        with app.server.app_context():
            paths = page_paths(sample_region(app))
        for who in [None, login] if login and engine is None else [None]:
            crawl = crawl_app(app, "en", paths, who)
            for problem in crawl.skipped:
                log.warning("not rendered: %s", problem)
            strings += crawl.strings
            log.info(
                "%d visible strings on %d pages (%d callbacks)",
                len(crawl.strings),
                len(paths),
                crawl.callbacks_fired,
            )
        keep |= proper_names(app) | ({login[0]} if login else set())
    template = build_template(strings, source_messages(), keep=keep)
    log.info("%d messages", len(template))
    return write_catalogues(template)


# Visible strings that are the same in every language, with why: they never enter the catalogues.
ALLOWED: dict[str, str] = {
    "crisisrisk": "the product's name",
    "n": "the statistical symbol for a count",
    "ISO3": "the name of the code standard",
    "Spearman ρ": "a statistic's name and symbol",
    "name@example.org": "an example e-mail address",
    "GET /api/v1/alerts": "an API address",
    "GET /api/v1/phases": "an API address",
}
# Kinds of visible text that are not language: internal ids, documents generated in English.
NOT_FOR_TRANSLATION: dict[str, re.Pattern] = {
    "an internal id (source, indicator, model variant, column, alert rule)": re.compile(
        r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)+$|^[a-z]+[0-9]+$"
    ),
    "a generated document in English (the model card; docs/MODEL.md)": re.compile(r"^# Model card", re.S),
    "a model run id": re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]+$"),
    "a file path on the server": re.compile(r"^/[\w.-]+(?:/[\w.-]+)+$"),
    "a data set's title and publisher, as the publisher writes them": re.compile(r"^[^—]+ — [^—]+$"),
}


def not_for_translation(text: str) -> str | None:
    """Why ``text`` is shown as it is in every language, or None when it should be translated."""
    if text in ALLOWED:
        return ALLOWED[text]
    for reason, pattern in NOT_FOR_TRANSLATION.items():
        if pattern.match(text):
            return reason
    return None
