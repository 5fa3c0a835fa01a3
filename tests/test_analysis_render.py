"""The figure helpers produce the pixels they promise."""

import numpy as np
import pytest

from vitstudio import charts
from vitstudio.analysis import render


def test_colormap_endpoints_and_interpolation():
    np.testing.assert_array_equal(
        render.colormap(np.array([0.0, 0.5, 1.0]), "gray"), [[0, 0, 0], [128, 128, 128], [255, 255, 255]]
    )
    ends = render.colormap(np.array([3.0, 7.0]), "inferno")  # scaled to its own min and max
    np.testing.assert_array_equal(ends, [render.hex_rgb("#000004"), render.hex_rgb("#fcffa4")])
    np.testing.assert_array_equal(render.colormap(np.array([5.0]), "gray", vmin=0, vmax=10), [[128, 128, 128]])
    with pytest.raises(ValueError, match="unknown colormap"):
        render.colormap(np.zeros(2), "rainbow")


def test_overlay_blends_patch_blocks_with_the_opacity():
    image = np.full((4, 4, 3), 100, np.uint8)
    heat = np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(render.overlay(image, heat, alpha=0.0), image)
    full = render.overlay(image, heat, alpha=1.0, cmap="gray")
    np.testing.assert_array_equal(full[:2, :2], 0)  # each map cell covers its 2x2 pixel block
    np.testing.assert_array_equal(full[:2, 2:], 255)
    half = render.overlay(image, heat, alpha=0.5, cmap="gray")
    np.testing.assert_array_equal(half[0, 0], [50, 50, 50])
    np.testing.assert_array_equal(half[0, 3], [178, 178, 178])  # round(0.5 * 100 + 0.5 * 255)
    with pytest.raises(ValueError, match="opacity"):
        render.overlay(image, heat, alpha=1.5)


def test_tile_grid_places_tiles_with_gaps():
    tiles = [np.full((4, 5, 3), v, np.uint8) for v in (10, 20, 30)]
    grid = render.tile_grid(tiles, ncols=2, gap=1, background=(255, 255, 255))
    assert grid.shape == (2 * 4 + 3, 2 * 5 + 3, 3)
    np.testing.assert_array_equal(grid[1:5, 1:6], 10)
    np.testing.assert_array_equal(grid[1:5, 7:12], 20)
    np.testing.assert_array_equal(grid[6:10, 1:6], 30)
    np.testing.assert_array_equal(grid[6:10, 7:12], 255)  # no fourth tile
    np.testing.assert_array_equal(grid[0], 255)
    labelled = render.tile_grid(tiles, ncols=3, gap=1, labels=["a", "b", "c"])
    assert labelled.shape[0] > 4 + 2 and labelled.shape[1] == 3 * 5 + 4
    assert (labelled[5:, 1:6] < 128).any()  # the label's dark text under the first tile


def test_titled_adds_a_wrapped_title_above():
    img = np.zeros((10, 120, 3), np.uint8)
    one = render.titled(img, "short")
    two = render.titled(img, "a considerably longer title that has to wrap onto a second line")
    assert one.shape[1] == 120 and two.shape[0] > one.shape[0] > 10
    np.testing.assert_array_equal(one[-10:], img)


def test_scatter_chart_draws_each_series_in_its_colour():
    heads = [charts.Series([1], [5.0], charts.CATEGORY_COLORS[0], "0", line=False, markers=True)]
    heads.append(charts.Series([2, 3], [10.0, 20.0], charts.CATEGORY_COLORS[1], "1", line=False, markers=True))
    plot = charts.Chart(tuple(heads), xlabel="layer", ylabel="px", size=(200, 300), integer_x=True).image()
    assert plot.shape == (200, 300, 3)
    colours = {tuple(c) for c in plot.reshape(-1, 3)}
    assert charts.hex_rgb(charts.CATEGORY_COLORS[0]) in colours
    assert charts.hex_rgb(charts.CATEGORY_COLORS[1]) in colours
    assert charts.hex_rgb(charts.CATEGORY_COLORS[2]) not in colours
    with pytest.raises(ValueError, match="same length"):
        charts.Chart((charts.Series([1, 2], [1.0], "#000000"),)).image()


def test_save_png_round_trips(tmp_path):
    from PIL import Image

    img = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = render.save_png(img, tmp_path / "sub" / "x.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), img)
