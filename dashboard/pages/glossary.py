"""Glossary page (``/glossary``): the terms the screens use, in plain words, each with where it comes from.

Why a page: a donor or a cluster lead meets "TIP tier", "SHAP" or "nowcast" on the map and region pages; a
link on the term leads here (``/glossary#<anchor>``) instead of a footnote on every card.
"""

from __future__ import annotations

import dash
from dash import dcc, html

dash.register_page(
    __name__,
    path="/glossary",
    name="Glossary",
    order=5.5,
    title="Glossary · crisisrisk",
    description="The terms of the dashboard in plain words, with their sources",
)

# (anchor, term, plain explanation, source). Anchors are stable: pages link to /glossary#<anchor>.
TERMS: tuple[tuple[str, str, str, str], ...] = (
    (
        "detected-victims",
        "Detected victims",
        "People identified as victims of trafficking by the authorities or by organisations of a country, as"
        " the country reports them. They are not all victims: many are never found. Shown per 100,000 people"
        " so that large and small countries can be compared.",
        "UNODC Global Report on Trafficking in Persons (GLOTIP) data.",
    ),
    (
        "detection-bias",
        "Detection bias",
        "A country that looks hard for victims finds more of them. A low number can therefore mean little"
        " detection rather than little trafficking, and the model's estimate follows detection too. Read the"
        " estimates as the risk of detected trafficking, not of trafficking itself.",
        "UNODC GLOTIP methodology notes; docs/MODEL.md of this project.",
    ),
    (
        "watch-list",
        "Crisis watch list",
        "The ranking of populations where the crisis drivers that raise trafficking among displaced people"
        " (conflict deaths, displacement, disasters) are rising. Its score is the expected rise of nationals"
        " detected as victims abroad over the next three years against the last three.",
        "This project (docs/WATCHLIST.md), on UCDP, UNHCR, IDMC and EM-DAT data.",
    ),
    (
        "expected-rise",
        "Expected rise (ratio)",
        "How many times more nationals are expected to be detected abroad in the next three years than in the"
        " last three: ×1.10 means 10% more, ×1 no change.",
        "This project (docs/WATCHLIST.md).",
    ),
    (
        "measured-skill",
        "Measured skill",
        "How well the watch list did on past years it had not seen: weak, moderate or strong, from the rank"
        " correlation between its ranking and what happened later. Weak means: use it as a rough guide.",
        "This project's pre-registered protocol (docs/WATCHLIST.md).",
    ),
    (
        "risk-score",
        "Risk score",
        "Where a country's estimate of detected victims per 100,000 people stands among all countries that"
        " year, from 0 (lowest) to 100 (highest). It is a rank, not a probability.",
        "This project (docs/MODEL.md).",
    ),
    (
        "risk-band",
        "Risk band",
        "The risk score in four groups: low (below 50), moderate (50 to 74), high (75 to 89) and very high"
        " (90 and above). The colours run from light yellow to dark red, darker meaning riskier, and stay in"
        " that order for people with red-green colour blindness.",
        "This project (docs/MODEL.md); colours from ColorBrewer YlOrRd (Brewer, colorbrewer2.org).",
    ),
    (
        "interval",
        "80% interval",
        "The range the true value is expected to fall in 8 times out of 10. A wide interval means the model"
        " is unsure. The share of past values that did fall inside is checked on the Model page (coverage).",
        "Split-conformal intervals (docs/MODEL.md).",
    ),
    (
        "basis",
        "Basis: checked, nowcast, projection",
        "How close an estimate is to a real report. Checked: the country reported detected victims that year."
        " Nowcast: the newest report used is one or two years old. Projection: older than that, or none;"
        " treat it with more care. The screens show projected years lighter.",
        "This project (docs/MODEL.md, Staleness).",
    ),
    (
        "shap",
        "SHAP (why this estimate)",
        "A way to split one estimate into the contributions of its inputs: starting from the average of all"
        " countries, each input pushes the estimate up (orange) or down (purple). The contributions add up on"
        " the model's log scale, where +0.69 means about twice as many.",
        "Lundberg and Lee (2017), 'A unified approach to interpreting model predictions', NeurIPS.",
    ),
    (
        "log-scale",
        "Log scale",
        "An axis or colour scale where each step multiplies the value (1, 10, 100 ...) instead of adding to"
        " it, so that small and very large values both show. The tick labels give the real values.",
        "",
    ),
    (
        "tip-tier",
        "TIP tier",
        "The US State Department's yearly grade of a government's efforts against trafficking: tier 1 (meets"
        " the minimum standards), tier 2, tier 2 watch list, tier 3 (does not meet them and is not making"
        " significant efforts).",
        "US Department of State, Trafficking in Persons Report.",
    ),
    (
        "3p-index",
        "3P index",
        "A score of a country's anti-trafficking policy in three areas, prosecution, protection and"
        " prevention, each graded 1 to 5: the total runs from 3 (weakest) to 15 (strongest).",
        "Cho, Dreher and Neumayer (2014), 'Determinants of anti-trafficking policies', 3P Anti-trafficking"
        " Policy Index.",
    ),
    (
        "wgi",
        "WGI",
        "The World Bank's Worldwide Governance Indicators: rule of law, government effectiveness, control of"
        " corruption, political stability and voice and accountability, each scored from about −2.5 (weakest)"
        " to +2.5 (strongest).",
        "World Bank, Worldwide Governance Indicators (Kaufmann and Kraay).",
    ),
    (
        "gsi",
        "GSI vulnerability",
        "How vulnerable a country's people are to modern slavery, from 0 to 100 (most vulnerable).",
        "Walk Free, Global Slavery Index 2016 and 2018.",
    ),
    (
        "idps",
        "IDPs",
        "Internally displaced people: people forced from their homes who stay inside their own country.",
        "IDMC (Internal Displacement Monitoring Centre), UNHCR.",
    ),
    (
        "admin-1",
        "Admin-1 unit",
        "The first level below the country: a state, province or region. Admin-1 estimates share out the"
        " country's estimate by where conflict deaths and displaced people are located.",
        "Natural Earth boundaries; UCDP GED and IOM DTM locations.",
    ),
    (
        "backtest",
        "Backtest",
        "Checking the model on past years it was not trained on: train on data up to a year, predict the"
        " years after, compare with what was reported. All quality numbers on the Model page come from it.",
        "This project (docs/MODEL.md).",
    ),
    (
        "rmsle",
        "RMSLE",
        "Root mean squared log error: the typical size of the model's error on a log scale, so that an error"
        " of 1 instead of 2 counts as much as 100 instead of 200. Lower is better; 0 is perfect.",
        "A standard error measure; its use here is in docs/MODEL.md.",
    ),
    (
        "mae",
        "MAE",
        "Mean absolute error: the average miss, in detected victims per 100,000 people. Lower is better.",
        "",
    ),
    (
        "spearman",
        "Spearman rank correlation",
        "How well two rankings agree, from −1 (reversed) through 0 (unrelated) to +1 (the same order).",
        "",
    ),
    (
        "horizon",
        "Horizon",
        "How many years past its newest report an estimate looks. The model is checked up to 3 years ahead;"
        " beyond that the Model page says it is outside the checked range.",
        "This project (docs/MODEL.md).",
    ),
)


def term_link(anchor: str, text: str) -> dcc.Link:
    """A term on a page, linked to its entry in the glossary."""
    return dcc.Link(text, href=f"/glossary#{anchor}", className="term", title="What this means: glossary")


def _entry(anchor: str, term: str, text: str, source: str) -> list:
    return [
        html.Dt(term, id=anchor),
        html.Dd([html.Span(text), html.Div(["Source: ", source], className="source") if source else None]),
    ]


def layout(**_query):
    entries = [part for item in TERMS for part in _entry(*item)]
    return html.Div(
        className="glossary-page",
        children=[
            html.H1("Glossary"),
            html.P(
                "The words the dashboard uses, in plain language, and where each comes from.",
                className="note",
            ),
            html.Div(className="card glossary", children=[html.Dl(entries)]),
        ],
    )
