"""The spill store behind every record (abm.recording.store): chunks written to disk and
read back bit for bit, checkpoints by reference, damaged files named, streamed .npz."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import abm
import abm.recording.store as store
from abm.metrics.convergence import strong_regret_curve
from abm.metrics.regret import cce_gap, ce_gap, external_regret, lagrangian_payoff, nearest_grid_index, swap_regret
from abm.metrics.strong_regret import strong_regret
from abm.recording import SpillArray, SpillDir, SpillError, write_npz


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(0, 40),
    chunk=st.integers(1, 9),
    shape=st.sampled_from([(1,), (3,), (2, 3)]),
    lo=st.integers(0, 45),
    span=st.integers(0, 45),
)
def test_rows_read_back_exactly_across_chunk_boundaries(rows, chunk, shape, lo, span):
    ref = np.random.default_rng(rows * 31 + chunk).standard_normal((rows, *shape))
    arr = SpillArray("x", shape, SpillDir(), chunk_rows=chunk)
    for t in range(rows):
        arr.row(t)[...] = ref[t]
    assert arr.shape == ref.shape
    np.testing.assert_array_equal(arr.to_array(), ref)
    np.testing.assert_array_equal(arr.read(lo, lo + span), ref[lo : lo + span])
    blocks = list(arr.chunks(rows=chunk + 1))
    assert [b[0] for b in blocks] == list(range(0, rows, chunk + 1))
    if blocks:
        np.testing.assert_array_equal(np.concatenate([b[1] for b in blocks]), ref)


def test_flushed_rounds_cannot_be_rewritten():
    arr = SpillArray("x", (2,), SpillDir(), chunk_rows=2)
    for t in range(5):
        arr.row(t)[...] = t
    with pytest.raises(SpillError, match="already flushed"):
        arr.row(1)


def test_checkpoint_refers_to_the_file_and_drops_rows_written_after_it(tmp_path):
    spill = SpillDir(tmp_path / "rec")
    arr = SpillArray("x", (3,), spill, chunk_rows=4)
    for t in range(10):
        arr.row(t)[...] = t
    saved = arr.state_dict()
    for t in range(10, 20):  # a run that goes on after the checkpoint, then crashes
        arr.row(t)[...] = -1.0
    resumed = SpillArray("x", (3,), spill, chunk_rows=4)  # the array of a model rebuilt on resume
    resumed.load_state_dict(saved)
    assert resumed.rows == 10
    np.testing.assert_array_equal(resumed.to_array()[:, 0], np.arange(10.0))
    for t in range(10, 14):
        resumed.row(t)[...] = t
    np.testing.assert_array_equal(resumed.to_array()[:, 0], np.arange(14.0))


def test_a_truncated_spill_file_is_a_clear_error(tmp_path):
    spill = SpillDir(tmp_path / "rec")
    arr = SpillArray("x", (3,), spill, chunk_rows=4)
    for t in range(10):
        arr.row(t)[...] = t
    saved = arr.state_dict()
    path = spill.file("x")
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(SpillError, match="holds 20 bytes"):
        SpillArray("x", (3,), spill, chunk_rows=4).load_state_dict(saved)
    with pytest.raises(SpillError, match="truncated or deleted"):
        arr.read(0, 8)


def test_temporary_spills_are_removed_with_their_owner():
    spill = SpillDir()
    arr = SpillArray("x", (2,), spill, chunk_rows=1)
    for t in range(3):
        arr.row(t)[...] = t
    path = spill.path
    assert path.is_dir()
    spill.cleanup()
    assert not path.exists()


def test_npz_streams_spilled_members(tmp_path):
    arr = SpillArray("x", (2, 2), SpillDir(), chunk_rows=3)
    ref = np.arange(28.0).reshape(7, 2, 2)
    for t in range(7):
        arr.row(t)[...] = ref[t]
    write_npz(tmp_path / "m.npz", {"x": arr, "ids": np.arange(2)})
    got = np.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(got["x"], ref)
    np.testing.assert_array_equal(got["ids"], np.arange(2))


@pytest.mark.parametrize(
    "scenario, overrides",
    [
        ("public-goods", {"rounds": 300, "seed": 3}),
        ("voting", {"rounds": 60, "agents": 6}),
    ],
)
def test_streamed_regret_metrics_equal_the_whole_array_computation(monkeypatch, scenario, overrides):
    """Strong regret, its curve, external and swap regret and the CE/CCE gaps of a run whose
    menus spilled to disk in many small chunks equal the same metrics computed on the whole
    (T, m, K) menus in memory (the computation before the records were chunked), to 1e-9."""
    monkeypatch.setattr(store, "CHUNK_BYTES", 4096)  # a few rounds per chunk: many flushes
    res = abm.run(scenario, overrides=overrides, progress=False)
    model = res.model
    menus = model.menus
    assert menus.store.flushed > 0  # the menus (or their statistics) really went through the disk
    u, c = menus.all_menus()
    charges, utilities = model.trace.charges, model.trace.utilities
    budget = model.ledger.initial[model.trace.agents]
    table = res.agent_table
    sr = strong_regret(u, c, budget, utilities)
    np.testing.assert_allclose(table["strong_regret"], sr.regret, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(table["r_star"], sr.r_star, rtol=1e-9, atol=1e-9)
    curve = strong_regret_curve(u, c, utilities, charges, budget, None, 1.0)
    eps = res.rounds["epsilon"].to_numpy()
    bound = res.summary["metrics"]["strong_regret"]["payoff_bound"]
    np.testing.assert_allclose(eps[curve.horizons - 1], curve.epsilon / bound, rtol=1e-9, atol=1e-9)
    k = menus.grid.shape[0]
    gu, gc = u[:, :, :k], c[:, :, :k]
    ext, _ = external_regret(gu, gc, budget, utilities.sum(axis=0))
    np.testing.assert_allclose(table["external_regret"], ext, rtol=1e-9, atol=1e-9)
    idx = nearest_grid_index(menus.played.to_array(), menus.grid)
    np.testing.assert_allclose(table["swap_regret"], swap_regret(gu, idx, utilities), rtol=1e-9, atol=1e-9)
    lag = swap_regret(
        lagrangian_payoff(gu, gc, sr.r_star), idx, lagrangian_payoff(utilities, charges, sr.r_star)
    )
    np.testing.assert_allclose(table["swap_regret_lagrangian"], lag, rtol=1e-9, atol=1e-9)
    met = res.summary["metrics"]
    # ce_gap / cce_gap are the gaps of the Lagrangian game u - r* c; *_utility_only on u alone.
    lag_grid, lag_got = lagrangian_payoff(gu, gc, sr.r_star), lagrangian_payoff(utilities, charges, sr.r_star)
    assert met["cce_gap"] == pytest.approx(cce_gap(lag_grid, lag_got), rel=1e-9, abs=1e-12)
    assert met["ce_gap"] == pytest.approx(ce_gap(lag_grid, idx, lag_got), rel=1e-9, abs=1e-12)
    assert met["cce_gap_utility_only"] == pytest.approx(cce_gap(gu, utilities), rel=1e-9, abs=1e-12)
    assert met["ce_gap_utility_only"] == pytest.approx(ce_gap(gu, idx, utilities), rel=1e-9, abs=1e-12)
    assert (sr.r_star > 0).any() and met["ce_gap"] < met["ce_gap_utility_only"]  # budgets bind here


def test_columns_of_a_spill_array_read_as_their_slice(tmp_path):
    """A `SpillColumns` view (the menus' utility, cost and played report share one spill row)
    reads, chunks and counts its bytes as the same columns sliced from the whole array, on
    disk and in the in-memory tail; an int column drops the axis."""
    arr = store.SpillArray("x", (3, 7), store.SpillDir(tmp_path), chunk_rows=4)
    rows = np.arange(11 * 21, dtype=np.float64).reshape(11, 3, 7)
    for t in range(11):
        arr.row(t)[...] = rows[t]
    assert arr.flushed == 8
    for cols in (slice(2, 5), 6):
        view = store.SpillColumns(arr, cols)
        want = rows[..., cols]
        assert view.shape == want.shape and view.row_bytes * 11 == want.nbytes
        np.testing.assert_array_equal(view.to_array(), want)
        np.testing.assert_array_equal(np.concatenate([b for _, b in view.chunks(rows=3)]), want)
    np.testing.assert_array_equal(arr.read(1, 10, mapped=True), rows[1:10])
