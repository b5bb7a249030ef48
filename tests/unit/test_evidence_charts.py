"""The flows-per-next-hop chart: a PNG matplotlib can read back, one bar group per node, drawn
only when something records attachments."""

from __future__ import annotations

import io

import allure_commons
import pytest
from matplotlib.image import imread

from pytest_ciliumbgp.evidence import charts

NODES = ["k8s-ctr", "k8s-w1", "k8s-w0"]
COUNTS = {"hash=L3 (0)": {"k8s-w1": 90}, "hash=L4 (1)": {"k8s-ctr": 31, "k8s-w1": 28, "k8s-w0": 31}}


def test_chart_is_a_png() -> None:
    png = charts.flow_counts_png(COUNTS, NODES, "90 flows")

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    height, width, _ = imread(io.BytesIO(png), format="png").shape
    assert (width, height) == (680, 360)  # 2 + 1.6 inches per node, 3.6 inches, at 100 dpi


def test_chart_widens_with_the_nodes() -> None:
    one = imread(io.BytesIO(charts.flow_counts_png({"hash=L4 (1)": {"a": 1}}, ["a"], "t")))
    five = imread(io.BytesIO(charts.flow_counts_png({"hash=L4 (1)": {"a": 1}},
                                                    ["a", "b", "c", "d", "e"], "t")))

    assert five.shape[1] - one.shape[1] == 4 * 160


def test_nothing_is_drawn_when_nothing_records_attachments(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    if allure_commons.plugin_manager.hook.attach_data.get_hookimpls():
        pytest.skip("this run records Allure results itself (--alluredir)")

    def draw(*args: object) -> bytes:
        raise AssertionError("drawn although no one records it")

    monkeypatch.setattr(charts, "flow_counts_png", draw)
    charts.attach_flow_counts("chart", COUNTS, NODES, "90 flows")
