"""The ground-truth headline, table and plot, on a hand-made report whose answers are known."""

from __future__ import annotations

from functional_sim.studies.ground_truth_report import headline, markdown_table, write_plot


def _model(miss: float, agreement: float = 0.99) -> dict:
    return {"top1": 0.9 + miss, "ci95": [0.85, 0.95], "degradation_error": miss,
            "degradation_error_ci95": [miss - 0.01, miss + 0.01], "agreement": agreement,
            "layers": {}}


def _report() -> dict:
    # two settings × one net; the truth loses 1 and 8 points against float (0.98)
    cell = lambda truth, an, ge, best: {  # noqa: E731
        "circuit": {"top1": truth, "ci95": [truth - 0.02, truth + 0.02],
                    "degradation": 0.98 - truth},
        "analytical": _model(an), "geniex": _model(ge), "best_model": best}
    settings = {"32x32/sinh/Ron100k/0.25V": {"mnist_cnn": cell(0.97, 0.004, -0.002, "geniex")},
                "64x64/sinh/Ron25k/0.5V": {"mnist_cnn": cell(0.90, 0.05, 0.003, "geniex")}}
    return {"reference": "circuit", "nets": {"mnist_cnn": {"images": 500, "float_top1": 0.98}},
            "settings": settings,
            "headline": headline(settings, "circuit", ["analytical", "geniex"])}


def test_headline_names_the_best_model_and_the_analytical_miss() -> None:
    h = _report()["headline"]
    assert h["cells"] == 2 and h["best_model"] == "geniex"
    assert h["truth_max_loss_pts"] == {"pts": 8.0, "at": "64x64/sinh/Ron25k/0.5V mnist_cnn"}
    an, ge = h["models"]["analytical"], h["models"]["geniex"]
    assert an["max_abs_miss_pts"] == 5.0 and an["max_at"] == "64x64/sinh/Ron25k/0.5V mnist_cnn"
    assert an["mean_abs_miss_pts"] == 2.7 and ge["mean_abs_miss_pts"] == 0.25
    assert (an["best_in"], ge["best_in"]) == (0, 2)
    assert (an["within_close"], ge["within_close"]) == (1, 2)
    assert h["analytical_off"] == {"cells": ["64x64/sinh/Ron25k/0.5V mnist_cnn"],
                                   "within_close": {"analytical": 0, "geniex": 1}}


def test_table_has_a_row_per_cell_and_the_summary(tmp_path) -> None:
    report = _report()
    table = markdown_table(report)
    assert "| 64x64/sinh/Ron25k/0.5V | mnist_cnn | 98.0 | 90.0 [88.0, 92.0] | +5.0 (99.0%) | +0.3 (99.0%) | geniex |" in table
    assert "| analytical | 2.70 | 5.00 |" in table
    assert "misses by ≥ 2 points in 1 cell(s)" in table
    write_plot(report, tmp_path)
    assert (tmp_path / "ground_truth.png").stat().st_size > 0
    rows = (tmp_path / "ground_truth.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("setting,network,model,miss_pts")


def test_runner_up_gap_and_its_paired_interval_from_the_per_image_results() -> None:
    import torch

    # one cell, 10 images. Truth right on 0..7; geniex right on 0..7 (miss 0); analytical
    # right on 0..8 (miss +0.1). Per-image term for the gap |m_an| − |m_ge|:
    # sign(+)(c_an − c_t) − 0 = 1 on image 8 only: mean 0.1, s = sqrt(0.1), se = s/√10 = 0.1
    t = torch.tensor([True] * 8 + [False] * 2)
    an = torch.tensor([True] * 9 + [False])
    settings = {"s": {"net": {"circuit": {"top1": 0.8, "ci95": [0.5, 0.9], "degradation": 0.1},
                              "analytical": _model(0.1), "geniex": _model(0.0),
                              "best_model": "geniex"}}}
    correct = {"s net": {"circuit": t, "analytical": an, "geniex": t.clone()}}
    h = headline(settings, "circuit", ["analytical", "geniex"], correct)
    assert h["best_model"] == "geniex"
    r = h["runner_up"]
    assert r["model"] == "analytical" and r["gap_pts"] == 10.0
    half = 1.959963984540054 * 0.1 * 100
    assert r["gap_ci95_pts"] == [round(10.0 - half, 3), round(10.0 + half, 3)]
    assert r["inside_interval"] is True          # one image of ten settles nothing
    assert "Runner-up: analytical, 10.00 points" in markdown_table(
        {"reference": "circuit", "nets": {"net": {"images": 10, "float_top1": 0.9}},
         "settings": settings, "headline": h})
