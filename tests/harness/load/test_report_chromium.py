"""report.html opened in headless Chromium (Debian's `chromium`, installed by .ci/run): no console message at all,
and every chart drew — coloured pixels (a series, not the grey grid or axes) inside each chart's plotting area on a
screenshot. Skipped only where chromium is not installed."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from harness.load import write_report
from harness.load._thresholds import evaluate, parse_threshold
from tests.harness.load.test_report import filled

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
WIDTH = 1000
MIN_SERIES_PIXELS = 40


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
               "--force-device-scale-factor=1", f"--user-data-dir={profile}", *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def decode_png(data: bytes) -> np.ndarray:
    """RGB(A) 8-bit non-interlaced PNG → array (height, width, channels): all Chromium writes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0)
    assert colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * channels)
    out = np.zeros((height, width * channels), dtype=np.int32)
    previous = np.zeros(width * channels, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + previous) & 0xFF
        else:  # Sub, Average, Paeth depend on the pixel to the left: undo them pixel by pixel
            row = np.zeros_like(line)
            for x in range(width * channels):
                left = row[x - channels] if x >= channels else 0
                up = previous[x]
                up_left = previous[x - channels] if x >= channels else 0
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) // 2
                else:
                    p = left + up - up_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                    predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                row[x] = (line[x] + predictor) & 0xFF
        out[y] = row
        previous = row
    return out.reshape(height, width, channels)[:, :, :3]


def test_the_report_renders_every_chart_without_a_console_message(tmp_path: Path) -> None:
    metrics = filled(1_700_000_000.4, seconds=8)
    verdicts = evaluate([parse_threshold("p99<800ms"), parse_threshold("429_rate<1%")], metrics.summary())
    html = write_report(metrics, tmp_path / "report", verdicts=verdicts, notes=["a note"])
    url = html.resolve().as_uri()
    dom = chromium(tmp_path / "profile-dom", "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert 'data-charts-drawn="5"' in dom.stdout
    boxes = {
        chart: tuple(int(v) for v in box.split(","))
        for chart, box in re.findall(r'id="(chart-[a-z]+)"[^>]*data-plot-box="([0-9,]+)"', dom.stdout)
    }
    assert set(boxes) == {"chart-rate", "chart-limit", "chart-errors", "chart-latency", "chart-distribution"}
    height = max(y + h for _, y, _, h in boxes.values()) + 40
    shot = tmp_path / "shot.png"
    done = chromium(tmp_path / "profile-shot", f"--window-size={WIDTH},{height}", f"--screenshot={shot}", url)
    assert done.returncode == 0, done.stderr[-2000:]
    pixels = decode_png(shot.read_bytes())
    assert pixels.shape[0] >= height - 1
    for chart, (x, y, w, h) in boxes.items():
        area = pixels[y : y + h, x : x + w]
        colourful = (area.max(axis=2) - area.min(axis=2)) > 40  # a series' colour; the grid and axes are grey
        assert colourful.sum() >= MIN_SERIES_PIXELS, f"{chart}: nothing drawn in its plotting area"
    blank = pixels[10:30, WIDTH - 60 : WIDTH - 20]  # the page's margin: no chart there
    assert ((blank.max(axis=2) - blank.min(axis=2)) > 40).sum() == 0
