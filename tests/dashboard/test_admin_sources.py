"""The upload dropdown names each source by its dataset title and publisher, not its internal id (issue 13
#8); the id stays the option's value (the API takes it) and stays searchable."""

from __future__ import annotations

from dashboard import workflows
from etl.sources import all_sources


def test_upload_dropdown_shows_titles_and_publishers():
    options = workflows.source_options()
    by_id = {o["value"]: o for o in options}
    assert set(by_id) == {s.name for s in all_sources()}
    unhcr = by_id["unhcr_population"]["label"]
    assert unhcr.startswith("UNHCR Refugee Population Statistics")
    assert unhcr.endswith("— UNHCR (Refugee Data Finder)")
    assert "unhcr_population" not in unhcr and "unhcr_population" in by_id["unhcr_population"]["search"]
    assert all(o["value"] not in o["label"] for o in options)  # no option is labelled by its id
    assert [o["label"].lower() for o in options] == sorted(o["label"].lower() for o in options)
    assert all(lbl.count("(") == lbl.count(")") for lbl in (o["label"].split(" — ")[1] for o in options))
