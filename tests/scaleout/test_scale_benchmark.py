"""benchmarks/scale.py's benchmark panel: counts come only from the country's real distribution, blocks hold
whole
cells, the per-block aggregation is exact; ``--device cuda`` without a GPU exits with a message, never a
traceback.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scaleout.cli import gpu_available

SCALE = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"


def _module():
    spec = importlib.util.spec_from_file_location("bench_scale", SCALE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_block_resamples_each_country_and_lags_look_back_only():
    scale = _module()
    # two hand-made distributions with disjoint supports, so a count shows which country it was drawn from
    dists = {"AAA": np.array([0.0, 1.0]), "BBB": np.array([10.0, 20.0, 30.0]), "*": np.array([5.0])}
    cells = pd.DataFrame(
        {"cell": [0, 1, 2], "region_id": ["AAA-1", "BBB-1", "CCC-1"], "iso3": ["AAA", "BBB", "CCC"]}
    )
    block = scale.make_block(cells, months=24, dists=dists, seed=1)
    assert len(block) == 3 * 24
    assert set(block.loc[block["cell"] == 0, "events"]) <= {0.0, 1.0}
    assert set(block.loc[block["cell"] == 1, "events"]) <= {10.0, 20.0, 30.0}
    assert set(block.loc[block["cell"] == 2, "events"]) == {5.0}  # no GED distribution: the pooled one
    features, sums = scale.aggregate_block(block)
    first = features[block["month"] == block["month"].min()]
    assert first["events_lag1"].isna().all()  # nothing before the first month
    cell1 = block["cell"] == 1
    np.testing.assert_allclose(
        features.loc[cell1, "events_lag1"].to_numpy()[1:],
        np.log1p(block.loc[cell1, "events"].to_numpy()[:-1]),
    )
    assert sums["events"].sum() == block["events"].sum() and len(sums) == 3 * 24


def test_benchmark_with_cuda_and_no_gpu_exits_with_a_message(capsys):
    ok, _why = gpu_available()
    if ok:
        pytest.skip("a CUDA GPU is present: this checks the message on machines without one (CI)")
    assert _module().main(["--rows", "1000", "--device", "cuda"]) == 3
    assert "--device cuda: no usable CUDA GPU here" in capsys.readouterr().out
