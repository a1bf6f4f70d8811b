"""The ground-truth headline, table and plot, on a hand-made report whose answers are known."""

from __future__ import annotations

from functional_sim.ground_truth_report import headline, markdown_table, write_plot


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
