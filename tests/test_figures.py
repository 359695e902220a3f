"""probdeg.figures: the Figure-3 heat maps' gain and colour scale, legends beside the curves."""

from __future__ import annotations

import numpy as np
import torch

import probdeg.figures as figures
from probdeg.figures import DIFF_GAIN, MAX_DIFF_GAIN, difference_gain, sample_grid_figure


def test_the_heat_map_gain_brings_small_spreads_to_full_scale():
    small = [torch.full((3, 8, 8), 0.01)]
    assert difference_gain(small) == 64  # 0.01 * 64 = 0.64: a power of 2 that stays in range
    assert difference_gain([torch.full((3, 8, 8), 0.3)]) == DIFF_GAIN  # never below the old fixed gain
    assert difference_gain([torch.zeros(3, 8, 8)]) == MAX_DIFF_GAIN  # a deterministic generator: black maps


def test_the_grid_labels_its_gain_and_ends_the_first_row_with_the_scale():
    torch.manual_seed(0)
    reference = torch.rand(3, 8, 8)
    samples = reference + 0.01 * torch.randn(3, 3, 8, 8)  # three samples that differ a little
    grid = sample_grid_figure([(reference, samples), (reference, samples)], scale=4)
    cell = 32
    # bicubic, 3 samples, 2 difference maps, and the scale bar on the first row only.
    assert grid.shape == (2 * (figures.LABEL_HEIGHT + cell), 7 * cell, 3)
    first_map = grid[figures.LABEL_HEIGHT:figures.LABEL_HEIGHT + cell, 4 * cell:5 * cell]
    assert first_map.mean() > 0.2  # the small spread is visible (it was near black at x4)
    bar = grid[figures.LABEL_HEIGHT:figures.LABEL_HEIGHT + cell, 6 * cell:6 * cell + 24]
    assert bar[0].mean() > bar[-1].mean()  # bright (full scale) at the top
    assert np.all(grid[figures.LABEL_HEIGHT * 2 + cell:, 6 * cell:] == figures.BACKGROUND)  # no bar on row 2


def test_legends_sit_beside_the_axes_not_on_the_curves(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(figures, "_save_figure", lambda figure, path: saved.append(figure) or path)
    figures.plot_curves(tmp_path / "c.png", [0, 5], {"a": [1, 2], "b long label": [2, 1]}, xlabel="x", ylabel="y",
                        title="t")
    figures.plot_histograms(tmp_path / "h.png", {"real": [0.01, 0.02], "generated": [0.03]}, xlabel="x", title="t")
    for figure in saved:
        figure.canvas.draw()
        axes = figure.axes[0]
        renderer = figure.canvas.get_renderer()
        assert axes.get_legend().get_window_extent(renderer).x0 > axes.get_window_extent(renderer).x1
