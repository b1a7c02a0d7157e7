"""The model card, generated from a run's metadata (never written by hand)."""

from __future__ import annotations

from typing import Any


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def verdict_rows(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Per horizon and metric: the model, the best baseline, and whether the model beats it (last 3
    origins)."""
    m = meta["metrics"]
    variant = meta["variant"]
    baselines = m["gate"].get("baselines", ["last_value", "mean_3y", "ridge"])
    rows = []
    for h in m.get("horizons", []):
        table = {r["model"]: r for r in m["backtest_last3"] if r["horizon"] == h}
        if variant not in table:
            continue
        for metric, higher_better in (
            ("rmsle", False),
            ("mae", False),
            ("spearman", True),
            ("top20_recall", True),
        ):
            base = [(b, table[b][metric]) for b in baselines if b in table and table[b][metric] is not None]
            if not base or table[variant][metric] is None:
                continue
            best_name, best = (max if higher_better else min)(base, key=lambda x: x[1])
            value = table[variant][metric]
            beats = value > best if higher_better else value < best
            rows.append(
                {
                    "horizon": h,
                    "metric": metric,
                    "model": value,
                    "best_baseline": best_name,
                    "baseline": best,
                    "beats": bool(beats),
                }
            )
    return rows


def backtest_section(meta: dict[str, Any]) -> list[str]:
    m = meta["metrics"]
    variant = meta["variant"]
    gate = m["gate"]
    op = m.get("operating_horizon", {})
    origins = m.get("origins", [])
    lines = [
        "",
        (
            f"## Backtest (horizon-matched rolling origin, origins {origins[0] if origins else '?'}–"
            f"{origins[-1] if origins else '?'})"
        ),
        (
            "For each origin Y and horizon h: train on label years ≤ Y with every input from the label's"
            " source (victims, prosecutions, convictions) dated ≤ Y, predict Y + h. Pooled over all origins:"
        ),
        "",
        "| horizon | model | RMSLE | MAE (per 100k) | Spearman | top-20 recall | 80% coverage | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(m["backtest_horizons"], key=lambda r: (r["horizon"], r["rmsle"] or 9e9)):
        lines.append(
            f"| {r['horizon']} | {r['model']} | {_fmt(r['rmsle'])} | {_fmt(r['mae'])} | "
            f"{_fmt(r['spearman'])} | {_fmt(r['top20_recall'], 2)} | {_fmt(r.get('coverage80'), 2)} | "
            f"{r['n']} |"
        )
    lines += [
        "",
        (
            f"Deployed model `{variant}` against the best baseline per horizon and metric, pooled over the "
            "latest three origins of each horizon (the gate's table):"
        ),
        "",
        "| horizon | metric | model | best baseline | value | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in verdict_rows(meta):
        lines.append(
            f"| {r['horizon']} | {r['metric']} | {_fmt(r['model'])} | {r['best_baseline']} | "
            f"{_fmt(r['baseline'])} | {'beats the baseline' if r['beats'] else 'does NOT beat it'} |"
        )
    if m.get("selection_rule"):
        lines += [
            "",
            (
                f"**Choice of the deployed candidate**: {m['selection_rule']} (never on the gate's origins). "
                "Mean RMSLE on those origins:"
            ),
            "",
            "| candidate | " + " | ".join(f"h{h}" for h in m.get("horizons", [])) + " |",
            "|---|" + "---|" * len(m.get("horizons", [])),
        ]
        sel: dict[str, dict[int, float]] = {}
        for r in m.get("backtest_selection", []):
            sel.setdefault(r["model"], {})[r["horizon"]] = r["rmsle"]
        for name, per_h in sorted(sel.items(), key=lambda kv: sum(v or 9.0 for v in kv[1].values())):
            lines.append(
                f"| {name}{' (deployed)' if name == variant else ''} | "
                + " | ".join(_fmt(per_h.get(h)) for h in m.get("horizons", []))
                + " |"
            )
    lines += [
        "",
        (
            "**Gate** (beat the best baseline on RMSLE at every horizon, not worse on Spearman): "
            f"{'passed' if gate['passed'] else 'NOT passed'}."
        ),
    ]
    for r in gate.get("horizons", []):
        if "model_rmsle" in r:
            pct = r["improvement_pct"]
            lines.append(
                f"- horizon {r['horizon']}: RMSLE {_fmt(r['model_rmsle'])} vs {r['best_baseline']} "
                f"{_fmt(r['best_baseline_rmsle'])} ({abs(pct):.1f}% {'better' if pct > 0 else 'worse'}), "
                f"Spearman {_fmt(r['model_spearman'])} vs best {_fmt(r['best_baseline_spearman'])} → "
                f"{'passed' if r['passed'] else 'failed'}"
            )
    goal = [r for r in gate.get("horizons", []) if r.get("horizon") in (2, 3) and "improvement_pct" in r]
    if goal:
        lines += [
            "",
            "**Goal** (issue 10: at horizons 2 and 3, at least 5% better than the best baseline on RMSLE): "
            + "; ".join(
                f"h{r['horizon']} {abs(r['improvement_pct']):.1f}% "
                f"{'better' if r['improvement_pct'] > 0 else 'worse'} → "
                f"{'met' if r['improvement_pct'] >= 5 else 'NOT met'}"
                for r in goal
            )
            + ".",
        ]
    if op:
        lines += [
            "",
            (
                f"**Operating horizon.** The newest label is {m.get('newest_label_year')}; the latest"
                f" predicted year {op['latest_year']} is {op['horizon']} years past it. The backtest"
                f" validates horizons up to {op['validated_up_to']}; predictions further out use the"
                f" horizon-{op['validated_up_to']} model and intervals and are marked `projection`."
            ),
        ]
    cov = m.get("coverage_by_horizon", [])
    if cov:
        lines += [
            "",
            "Split-conformal interval coverage in the backtest (sequential: calibrated on targets known "
            "at the origin): "
            + "; ".join(
                f"h{c['horizon']}: 50% → {_fmt(c['coverage50'], 2)}, 80% → {_fmt(c['coverage80'], 2)}, "
                f"90% → {_fmt(c['coverage90'], 2)} (n = {c['n']})"
                for c in cov
            )
            + ".",
        ]
    lines.append("")
    return lines


def model_card(meta: dict[str, Any]) -> str:
    lines = [
        f"# Model card: crisisrisk run `{meta['run_id']}`",
        "",
        "## Intended use",
        (
            "Ranks countries by the **risk of detected trafficking in persons**, one to several years past"
            " the newest label, to help donors and"
        ),
        "protection clusters decide where prevention and victim-identification capacity is most needed,",
        "especially at the onset of a crisis. It supports judgement; it does not replace field assessments.",
        "",
        "## What the number means (label and detection bias)",
        (
            f"- Label: {meta['label']}. Output: estimated detected victims per 100,000 people, an 80%"
            " split-conformal interval for its horizon,"
        ),
        (
            "  and a risk score (percentile within the year, 0–100) with a band (low < 50 ≤ moderate < 75 ≤"
            " high < 90 ≤ very high)."
        ),
        (
            "- **Detection bias.** The label counts victims that authorities *detected and reported* to"
            " UNODC. It"
        ),
        "  depends on how hard a state looks (laws, police and prosecution capacity, victim-identification",
        (
            "  services, reporting to UNODC) as much as on how many people are trafficked. Countries that"
            " look harder"
        ),
        "  report more; countries in collapse may report nothing. Detection-capacity features (prosecutions,",
        (
            "  convictions, TIP tier, 3P policy index) are modelled explicitly so that their effect is"
            " visible in the"
        ),
        "  explanations, but the output remains *risk of detected trafficking*, not prevalence.",
        (
            "- Censored counts: UNODC publishes small counts as '<5'. They enter the label at"
            f" {meta['config']['label']['censored_fraction']:g} × 5 (midpoint of the interval 1–4 victims)."
            f" {meta['censored_labels']} of {meta['training_rows']} training labels were censored."
        ),
        "",
        "## Data and years",
        (
            f"- Training labels: {meta['training_window'][0]}–{meta['training_window'][1]}"
            f" ({meta['training_rows']} country-years). UNODC publishes about two years late, so the years"
            " after the newest label are predicted (`nowcast`, `projection`)."
        ),
        (
            f"- Predictions: {meta['prediction_years'][0]}–{meta['prediction_years'][1]} for"
            f" {meta['countries_predicted']} countries."
        ),
        "  Every feature for year t uses data from years before t only.",
        f"- Variant deployed: `{meta['variant']}`; features ({len(meta['features'])}):",
    ]
    for f in meta["features"]:
        lines.append(
            f"  - `{f}` ({meta['feature_families'][f]}): {meta['feature_descriptions'].get(f, '')} "
            f"— from {', '.join(meta['feature_sources'].get(f, []))}"
        )
    lines += backtest_section(meta)
    lines += [
        "## Global explanation (mean |SHAP| by family, log1p scale)",
        "",
    ]
    lines += [f"- {g['family']}: {g['mean_abs_shap']:.3f}" for g in meta["global_shap"]]
    lines += [
        "",
        "## Admin-1 values",
        (
            "No sub-national trafficking label exists. Admin-1 values spread the country estimate by a"
            " transparent"
        ),
        (
            "exposure index (conflict deaths and events from UCDP GED, displaced people located by IDMC and"
            " IOM DTM, per"
        ),
        (
            "100k residents) and are labelled *exposure-downscaled*. Units without located data carry the"
            " country rate"
        ),
        "and are flagged.",
        "",
        "## Limits",
        (
            "- Labels are sparse and unbalanced: many countries report in few years; the newest label year"
            f" is {meta['training_window'][1]}."
        ),
        (
            f"- {len(meta.get('countries_without_label_history', []))} countries and territories have no"
            " detected-victims report in the 11 years before a predicted year. Their estimates come from the"
            " other inputs, are marked `model_no_label_history`, and their split-conformal intervals come"
            " from the backtest errors of first-time reporters (never narrower than the others'); rows whose"
            " latest report was '<5' get their own, wider, intervals too."
        ),
        (
            f"- {len(meta.get('small_population_countries', []))} places have fewer than 100,000 people."
            " Their per-100k rates are noise-dominated: risk scores and ranks use the log estimate shrunk"
            " toward the year's median with weight population / (population + 100,000), and every ranking"
            " flags them."
        ),
        (
            "- Every prediction carries a basis: `checked` (a label exists for that year), `nowcast` (newest"
            " label 1–2 years old) or `projection` (older or none), with its horizon and the newest conflict"
            " and displacement input years. Conflict and displacement values are carried at most 2 years past"
            " the end of their source."
        ),
        (
            "- Predictions after the newest label year cannot be checked against labels here; conflict data"
            " after early 2022 in Ukraine and several sources' recent years are incomplete."
        ),
        (
            "- Cross-sectional indices (GSI, Organized Crime Index, FSI, INFORM) exist for few years and are"
            " not used as"
        ),
        "  features where they would leak information from the future.",
        "- The model learns associations, not causes. SHAP values explain the model, not the world.",
        "",
        "## Do no harm",
        (
            "- This is **not evidence against any community, nationality or group**, and it must not be used"
            " to profile,"
        ),
        "  target, restrict or police people, including refugees and migrants.",
        (
            "- Use it to direct **protection, prevention and victim-identification resources**, and read it"
            " with local"
        ),
        "  protection actors' knowledge. A low score is not a reason to withdraw services.",
        "",
    ]
    return "\n".join(lines)
