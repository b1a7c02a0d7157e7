"""The model card, generated from a run's metadata (never written by hand)."""

from __future__ import annotations

from typing import Any


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def model_card(meta: dict[str, Any]) -> str:
    m = meta["metrics"]
    gate = m["gate"]
    pooled = m["backtest_pooled"]
    lines = [
        f"# Model card: crisisrisk run `{meta['run_id']}`",
        "",
        "## Intended use",
        "Ranks countries by the **risk of detected trafficking in persons** one year ahead, to help donors and",
        "protection clusters decide where prevention and victim-identification capacity is most needed,",
        "especially at the onset of a crisis. It supports judgement; it does not replace field assessments.",
        "",
        "## What the number means (label and detection bias)",
        f"- Label: {meta['label']}. Output: estimated detected victims per 100,000 people, an 80% interval,",
        "  and a risk score (percentile within the year, 0–100) with a band (low < 50 ≤ moderate < 75 ≤ high < 90 ≤ very high).",
        "- **Detection bias.** The label counts victims that authorities *detected and reported* to UNODC. It",
        "  depends on how hard a state looks (laws, police and prosecution capacity, victim-identification",
        "  services, reporting to UNODC) as much as on how many people are trafficked. Countries that look harder",
        "  report more; countries in collapse may report nothing. Detection-capacity features (prosecutions,",
        "  convictions, TIP tier, 3P policy index) are modelled explicitly so that their effect is visible in the",
        "  explanations, but the output remains *risk of detected trafficking*, not prevalence.",
        f"- Censored counts: UNODC publishes small counts as '<5'. They enter the label at {meta['config']['label']['censored_fraction']:g} × 5 "
        f"(midpoint of 0–5). {meta['censored_labels']} of {meta['training_rows']} training labels were censored.",
        "",
        "## Data and years",
        f"- Training labels: {meta['training_window'][0]}–{meta['training_window'][1]} ({meta['training_rows']} country-years). "
        "UNODC rows for 2019–2021 are held out by the data provider.",
        f"- Predictions: {meta['prediction_years'][0]}–{meta['prediction_years'][1]} for {meta['countries_predicted']} countries.",
        "  Every feature for year t uses data from years before t only.",
        f"- Variant deployed: `{meta['variant']}`; features ({len(meta['features'])}):",
    ]
    for f in meta["features"]:
        lines.append(f"  - `{f}` ({meta['feature_families'][f]}): {meta['feature_descriptions'].get(f, '')} "
                     f"— from {', '.join(meta['feature_sources'].get(f, []))}")
    lines += [
        "",
        "## Backtest (rolling origin, train ≤ Y, predict Y+1, Y = "
        f"{meta['config']['backtest']['first_origin']}–{meta['config']['backtest']['last_origin']})",
        "",
        "| model | RMSLE | MAE (per 100k) | Spearman | top-20 recall | 80% coverage | 80% width (per 100k) | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(pooled, key=lambda r: r["rmsle"] if r["rmsle"] is not None else 9e9):
        lines.append(f"| {r['model']} | {_fmt(r['rmsle'])} | {_fmt(r['mae'])} | {_fmt(r['spearman'])} | "
                     f"{_fmt(r['top20_recall'], 2)} | {_fmt(r.get('coverage80'), 2)} | {_fmt(r.get('width80'), 2)} | {r['n']} |")
    verdict = ("beats" if gate["passed"] else "does NOT beat")
    lines += [
        "",
        f"The deployed variant {verdict} the last-value baseline on pooled RMSLE "
        f"({_fmt(gate['model_rmsle'])} vs {_fmt(gate['last_value_rmsle'])}).",
        "",
        "Interval calibration (leave-one-origin-out conformal): "
        + ", ".join(f"nominal {c['nominal']:.0%} → empirical {_fmt(c['empirical'], 2)}" for c in m["calibration"])
        + ". Backtest 80% coverage by reporting history: "
        + ", ".join(f"{k.replace('_', ' ')} {_fmt(v['coverage80'], 2)} (n = {v['n']})"
                    for k, v in m.get("coverage_by_history", {}).items()) + ".",
        "",
        "## Global explanation (mean |SHAP| by family, log1p scale)",
        "",
    ]
    lines += [f"- {g['family']}: {g['mean_abs_shap']:.3f}" for g in meta["global_shap"]]
    lines += [
        "",
        "## Admin-1 values",
        "No sub-national trafficking label exists. Admin-1 values spread the country estimate by a transparent",
        "exposure index (conflict deaths and events from UCDP GED, displaced people located by IDMC and IOM DTM, per",
        "100k residents) and are labelled *exposure-downscaled*. Units without located data carry the country rate",
        "and are flagged.",
        "",
        "## Limits",
        "- Labels are sparse and unbalanced: many countries report in few years; the last label year is 2018.",
        f"- {len(meta.get('countries_without_label_history', []))} countries and territories never reported detected "
        "victims in the training years (mostly small islands and territories). Their estimates are extrapolated and "
        "marked `model_no_label_history`; their 80% intervals use the backtest errors of countries reporting for the "
        f"first time (log half-width {m.get('interval_halfwidth_log_no_label_history', 0):.2f} instead of "
        f"{m.get('interval_halfwidth_log', 0):.2f}). Per-capita rates of very small populations are noisy: read "
        "their scores with the interval.",
        "- Predictions after 2018 cannot be checked against labels here; conflict data after early 2022 in Ukraine",
        "  and several sources' recent years are incomplete.",
        "- Cross-sectional indices (GSI, Organized Crime Index, FSI, INFORM) exist for few years and are not used as",
        "  features where they would leak information from the future.",
        "- The model learns associations, not causes. SHAP values explain the model, not the world.",
        "",
        "## Do no harm",
        "- This is **not evidence against any community, nationality or group**, and it must not be used to profile,",
        "  target, restrict or police people, including refugees and migrants.",
        "- Use it to direct **protection, prevention and victim-identification resources**, and read it with local",
        "  protection actors' knowledge. A low score is not a reason to withdraw services.",
        "",
    ]
    return "\n".join(lines)
