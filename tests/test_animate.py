"""Training as a movie: `mg plot boundary RUN --animate out.gif|out.html`, one frame per snapshot."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from microgradcli import plot
from microgradcli.checkpoint import load_checkpoint
from microgradcli.cli import app
from microgradcli.config import load_config
from microgradcli.errors import InputError
from microgradcli.snapshots import read_snapshots
from microgradcli.train import train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
runner = CliRunner()


def mg(*args: str):
    return runner.invoke(app, list(args))


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _train(d: Path, config: str, overrides: list[str], name: str) -> Path:
    cfg, base = load_config(CONFIGS / config, overrides)
    return train(cfg, base, out=d / name).run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("movies")
    small = ["data.n_samples=30", "model.hidden=[6]", "train.epochs=6"]
    return {
        "moons": _train(d, "moons.yaml", [*small, "output.snapshot_every=2"], "moons"),
        "plain": _train(d, "moons.yaml", small, "plain"),
        "wide": _train(d, "binary.yaml", ["train.epochs=2", "output.snapshot_every=1"], "wide"),
        "dir": d,
    }


def test_gif_has_one_frame_per_snapshot(runs):
    out = runs["dir"] / "m.gif"
    r = mg("plot", "boundary", str(runs["moons"]), "--animate", str(out), "--resolution", "40")
    assert r.exit_code == 0, r.output
    assert "wrote" in r.stderr and "4 frames" in r.stderr
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 4  # epochs 0, 2, 4, 6
        assert im.size == (640, 560)
        assert im.info["loop"] == 0 and im.info["duration"] == 200  # 5 frames a second
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            assert im.size == (640, 560)
            frames.append(np.asarray(im.convert("RGB")))
    assert not np.array_equal(frames[0], frames[-1])  # the boundary moves


def test_html_is_one_self_contained_page(runs):
    out = runs["dir"] / "m.html"
    r = mg("plot", "boundary", str(runs["moons"]), "--animate", str(out), "--resolution", "30")
    assert r.exit_code == 0, r.output
    page = out.read_text()
    data = re.search(r'<script id="frames" type="application/json">(.*?)</script>', page, re.S)
    frames = json.loads(data.group(1))
    assert len(frames) == 4
    assert all(f["src"].startswith("data:image/png;base64,") for f in frames)
    snaps = read_snapshots(runs["moons"])
    assert [f["label"].split(" · ")[0] for f in frames] == [f"epoch {s.epoch} of 6" for s in snaps]
    assert f"train loss {plot.readable(snaps[2].loss, 3)}" in frames[2]["label"]
    assert 'type="range"' in page and 'id="play"' in page
    # no network: nothing is fetched from anywhere but the page itself
    assert not re.search(r"(src|href)=\"(?!data:)", page) and "http" not in page.replace(
        "http-equiv", ""
    )


def test_every_frame_has_the_same_axes_and_colours(runs):
    ckpt = load_checkpoint(runs["moons"] / "model.json")
    from microgradcli.predict import training_dataset

    ds = training_dataset(ckpt)
    labels = [ckpt.class_list.index(y) for y in ds.y]
    frames = plot.boundary_frames(ckpt, read_snapshots(runs["moons"]), ds.x, labels, 30)
    fig, draw = plot._movie(frames, "moons", ckpt.threshold)
    seen = set()
    for i in range(len(frames)):
        draw(i)
        ax = fig.axes[0]
        image = ax.get_images()[0]
        seen.add((tuple(ax.get_position().bounds), ax.get_xlim(), ax.get_ylim(), image.get_clim(), tuple(map(tuple, image.get_cmap().colors))))  # fmt: skip
        assert ax.get_title() == plot._frame_text(frames[i], 6)
        assert fig.get_suptitle() == "moons"
    assert len(seen) == 1
    # the last frame is the trained model: its accuracy is what the static plot reports
    static = plot.boundary_data(ckpt, ds.x, labels, 30)
    assert frames[-1].data.accuracy == static.accuracy
    assert np.array_equal(frames[-1].data.labels, static.labels)


def test_errors(runs, tmp_path):
    line = one_error_line(mg("plot", "boundary", str(runs["plain"]), "--animate", str(tmp_path / "a.gif")))  # fmt: skip
    assert "no snapshots.jsonl" in line and "--set output.snapshot_every=5" in line
    line = one_error_line(mg("plot", "boundary", str(runs["wide"]), "--animate", str(tmp_path / "a.gif")))  # fmt: skip
    assert "models with 2 inputs; this one takes 3" in line
    line = one_error_line(mg("plot", "boundary", "nowhere", "--animate", str(tmp_path / "a.mp4")))
    assert "a.mp4: extension '.mp4'; the output must end in .gif or .html" in line
    line = one_error_line(mg("plot", "boundary", str(runs["moons"]), "--animate", str(tmp_path / "a.gif"), "-o", "b.svg"))  # fmt: skip
    assert "not both" in line
    assert list(tmp_path.iterdir()) == []


def test_html_in_a_real_browser(runs, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium")
    out = tmp_path / "m.html"
    assert mg("plot", "boundary", str(runs["moons"]), "--animate", str(out), "--resolution", "20", "--fps", "50").exit_code == 0  # fmt: skip
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        requests, errors = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(out.as_uri())
        assert page.inner_text("#label").startswith("epoch 0 of 6")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert page.inner_text("#label").startswith("epoch 4 of 6")
        page.click("#play")  # from frame 2 to the last, then it stops
        page.wait_for_function("document.getElementById('slider').value === '3'", timeout=5000)
        page.wait_for_function("document.getElementById('play').textContent.includes('play')")
        assert page.inner_text("#label").startswith("epoch 6 of 6")
        browser.close()
    assert [u for u in requests if not u.startswith("data:")] == [out.as_uri()]
    assert errors == []


def test_snapshots_of_another_model_are_refused(runs):
    from microgradcli.snapshots import Snapshot

    ckpt = load_checkpoint(runs["moons"] / "model.json")
    wide = load_checkpoint(runs["wide"] / "model.json").model.state_dict()
    bad = [Snapshot(1, 0.5, None, None, None, wide)]
    with pytest.raises(InputError, match="snapshot of epoch 1: a 3-input, 1-output model"):
        plot.boundary_frames(ckpt, bad, [[0.0, 0.0]])
    with pytest.raises(InputError, match="snapshot of epoch 2: malformed weights"):
        plot.boundary_frames(ckpt, [Snapshot(2, None, None, None, None, {"nin": 2})], [[0.0, 0.0]])


def test_many_snapshots_are_thinned_evenly(runs, tmp_path):
    snaps = list(range(1001))
    kept = plot.thin_snapshots(snaps, 100)
    assert len(kept) == 100 and kept[0] == 0 and kept[-1] == 1000
    assert max(b - a for a, b in zip(kept, kept[1:], strict=False)) <= 11
    assert plot.thin_snapshots(snaps[:5], 100) == snaps[:5]
    out = tmp_path / "m.html"
    r = mg("plot", "boundary", str(runs["moons"]), "--animate", str(out), "--max-frames", "3", "--resolution", "10")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "4 snapshots; drawing 3 of them" in r.stderr and "3 frames" in r.stderr
