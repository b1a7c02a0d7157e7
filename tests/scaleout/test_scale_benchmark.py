"""benchmarks/scale.py's benchmark panel: counts come only from the country's real distribution, blocks hold
whole
cells, the per-block aggregation is exact; ``--device cuda`` without a GPU exits with a message, never a
traceback.
"""

from __future__ import annotations

import importlib
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


def test_benchmark_cluster_matches_the_single_process_with_balanced_blocks():
    """The timed engines on a small hand-made panel: each worker holds its round-robin share of the rows
    (the scheduler once moved 3 of 4 blocks to one worker), every step used one core per process, and the
    2-worker cluster's SHAP values equal the single process's on the same rows (the same trees: the quantile
    cuts are exact here, as every feature has fewer distinct values than the sketch keeps)."""
    scale = importlib.import_module("benchmarks.scale")  # a package module, so worker processes import it
    rng = np.random.default_rng(7)
    dists = {"AAA": rng.poisson(2.0, 500).astype(float), "BBB": rng.poisson(9.0, 500).astype(float)}
    dists["*"] = np.concatenate(list(dists.values()))
    n = 2_000
    cells = pd.DataFrame(
        {
            "lon": np.zeros(n),
            "lat": np.zeros(n),
            "region_id": [f"R{i % 40}" for i in range(n)],
            "iso3": np.where(np.arange(n) % 3 == 0, "AAA", "BBB"),
        }
    )
    args = scale.parse_args(["--rows", "48000", "--trees", "20", "--shap-rows", "8000", "--workers", "2"])
    spec, months = scale.plan(cells, args)
    assert len(spec) == 4 and months == 24
    single, contribs, _booster, _explained = scale.run_single(spec, months, dists, args)
    cluster, cluster_contribs, peaks = scale.run_cluster(spec, months, dists, args)
    rows = [len(c) * months for c, _ in spec]
    assert cluster["train"]["rows_per_process"] == [rows[0] + rows[2], rows[1] + rows[3]]
    assert single["train"]["rows_per_process"] == [sum(rows)] and len(peaks) == 2
    assert single["aggregate"]["admin_cells"] == cluster["aggregate"]["admin_cells"] == 40 * months
    assert contribs.shape == cluster_contribs.shape and 7_000 < len(contribs) < 9_000
    assert np.abs(contribs[:, :-1]).max() > 0.01  # the features explain something
    shap_diff, pred_diff = scale.check(contribs, cluster_contribs)
    assert shap_diff < 1e-5 and pred_diff < 1e-5, (shap_diff, pred_diff)
    for step in ("aggregate", "train", "shap"):
        # one thread per process: CPU seconds never exceed wall seconds by more than the event loop's share
        assert single[step]["cpu"]["client"] <= single[step]["wall"] * 1.1 + 0.05, (step, single[step])
        for address, cpu in cluster[step]["cpu"].items():
            if address != "client":
                assert cpu <= cluster[step]["wall"] * 1.2 + 0.2, (step, address, cluster[step])
