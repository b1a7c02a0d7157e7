"""Values PostgreSQL refuses never reach it: NUL in a text parameter (400), ids beyond an INTEGER column."""

from __future__ import annotations

import pytest

from dashboard.api_core import BadRequest, Text
from models.scenarios_store import MAX_INTEGER_ID, saved_scenarios
from warehouse.db import make_engine, migrate


@pytest.mark.parametrize("raw", ["\x00", "SYR\x00", "a\x1fb", "x\x7f"])
def test_text_parameters_refuse_control_characters(raw):
    with pytest.raises(BadRequest, match="control characters"):
        Text("rule", "a rule name", max_length=80).convert(raw)
    assert Text("rule", "a rule name", max_length=80).convert(" ok ") == "ok"


def test_a_saved_scenario_id_beyond_the_integer_column_is_simply_unknown(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/wh.sqlite")
    migrate(engine)
    assert saved_scenarios(engine, scenario_id=MAX_INTEGER_ID + 1) == []
    assert saved_scenarios(engine, scenario_id=0) == []
    assert saved_scenarios(engine, scenario_id=MAX_INTEGER_ID) == []


def test_ids_beyond_an_integer_column_are_a_404_from_routing(tmp_path):
    from dashboard.app import MAX_ROW_ID, RowIdConverter

    assert MAX_ROW_ID == 2**31 - 1
    converter = RowIdConverter(None)
    assert converter.to_python(str(MAX_ROW_ID)) == MAX_ROW_ID
    from werkzeug.exceptions import NotFound

    for raw in (str(MAX_ROW_ID + 1), "0", "9223372036854775808"):
        with pytest.raises(NotFound):
            converter.to_python(raw)
