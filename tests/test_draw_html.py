"""mg draw --format html: one self-contained page that steps through the backward pass,
checked in a real browser (the system Chromium, driven by Playwright) against
`mg grad --steps --json`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from microgradcli.draw import fmt_number

NEURON = "tanh(x1*w1 + x2*w2 + b)"
NEURON_AT = "x1=2,x2=0,w1=-3,w2=1,b=6.8813735870195432"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def mg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "microgradcli", *args],
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "PATH": "/nonexistent"},  # no dot: nothing depends on it
    )


def page_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="mg-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_html_is_one_self_contained_deterministic_file(tmp_path):
    out = tmp_path / "n.html"
    r = mg("draw", NEURON, "--at", NEURON_AT, "-o", str(out))
    assert r.returncode == 0, r.stderr
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg " in html and "<script>" in html
    # nothing to fetch: no src/href, no URL but the SVG namespace name
    assert not re.search(r"(?<![-\w])(src|href)\s*=", html)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    again = mg("draw", NEURON, "--at", NEURON_AT, "--format", "html")
    assert again.returncode == 0 and again.stdout == out.read_bytes()
    data = page_data(html)
    grad = json.loads(mg("grad", NEURON, "--at", NEURON_AT, "--steps", "--json").stdout)
    assert [s["label"] for s in data["steps"]] == [s["node"] for s in grad["steps"]]
    for ours, theirs in zip(data["steps"], grad["steps"], strict=True):
        assert ours["grad"] == theirs["grad"]
        assert [i["passed"] for i in ours["inputs"]] == [i["passed"] for i in theirs["inputs"]]
        assert [i["local"] for i in ours["inputs"]] == [i["local"] for i in theirs["inputs"]]


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    user_data = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(user_data), executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield ctx
        finally:
            ctx.close()


def _open(ctx, path):
    page = ctx.new_page()
    seen = {"errors": [], "requests": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto(path.as_uri())
    return page, seen


def _shown(page) -> dict[str, str]:
    """{box name: its grad text} as the page shows them now."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("svg g[id^=v]")].map(
            g => [g.querySelector("text.name").textContent, g.querySelector("text.grad").textContent]))"""
    )


@pytest.mark.parametrize(
    "expr, at",
    [(NEURON, NEURON_AT), ("(a*b + c)*(a*b - c) + (a*b)**2", "a=1,b=2,c=3")],
)
def test_the_step_through_in_a_browser_matches_mg_grad_steps(browser_page, tmp_path, expr, at):
    out = tmp_path / "g.html"
    assert mg("draw", expr, "--at", at, "-o", str(out)).returncode == 0
    grad = json.loads(mg("grad", expr, "--at", at, "--steps", "--json").stdout)
    steps, data = grad["steps"], page_data(out.read_text())
    # when each variable's grad is final: after the last step that passes to it
    final = {name: max(k for k, s in enumerate(steps, 1) for i in s["inputs"] if i["node"] == name)
             for name in grad["grad"]}  # fmt: skip
    page, seen = _open(browser_page, out)
    assert page.inner_text("#counter") == f"step 0 / {len(steps)}"
    first = page.eval_on_selector("svg g[id^=v] title", "t => t.textContent")
    assert "\ngrad=?" in first  # a leaf's grad is not known before backward runs
    for k in range(1, len(steps) + 1):
        page.click("#next")
        assert page.inner_text("#counter") == f"step {k} / {len(steps)}"
        current = page.eval_on_selector("svg g[id^=v].current", "g => g.id")
        assert current == f"v{data['steps'][k - 1]['id']}"
        assert data["steps"][k - 1]["label"] == steps[k - 1]["node"]
        highlighted = page.eval_on_selector_all("svg .edges path.passing", "ps => ps.length")
        assert highlighted == len(steps[k - 1]["inputs"])
        info = page.inner_text("#info")
        assert info.count(".grad += ") == len(steps[k - 1]["inputs"])
        shown = _shown(page)
        for name, g in grad["grad"].items():
            want = f"grad={fmt_number(g)}" if k >= final[name] else "grad=?"
            assert shown[name] == want, (k, name)
    # hover: the full-precision numbers of each box, once its grad is known
    tips = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("svg g[id^=v]")].map(
            g => [g.querySelector("text.name").textContent, g.querySelector("title").textContent]))"""
    )
    for name, g in grad["grad"].items():
        assert f"\ngrad={g!r}" in tips[name] and f"data={grad['at'][name]!r}" in tips[name]
    page.keyboard.press("ArrowLeft")
    assert page.inner_text("#counter") == f"step {len(steps) - 1} / {len(steps)}"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # stays at the last step
    assert page.inner_text("#counter") == f"step {len(steps)} / {len(steps)}"
    assert seen["errors"] == []
    assert seen["requests"] == [out.as_uri()]
    page.close()


def test_a_model_page_steps_through_the_neuron_view(browser_page, tmp_path):
    import random

    from microgradcli.checkpoint import Checkpoint
    from microgradcli.nn import MLP

    model = tmp_path / "model.json"
    ckpt = Checkpoint(model=MLP(3, [4, 4, 1], rng=random.Random(0)), task="regression")
    ckpt.save(model)
    out = tmp_path / "m.html"
    assert mg("draw", "--model", str(model), "--input", "2,3,-1", "-o", str(out)).returncode == 0
    data = page_data(out.read_text())
    assert len(data["steps"]) == 4 + 4 + 4 + 4 + 1  # w·x+b and relu per hidden neuron, out
    page, seen = _open(browser_page, out)
    assert _shown(page)["x1"] == "grad=?"
    page.click("#play")  # plays on its own, then pauses where it is
    for _ in range(100):  # the page's CSP forbids eval, so poll instead of wait_for_function
        if page.get_attribute("body", "data-step") != "0":
            break
        page.wait_for_timeout(100)
    page.click("#play")
    assert page.inner_text("#play") == "play"
    paused = page.get_attribute("body", "data-step")
    page.wait_for_timeout(1200)
    assert page.get_attribute("body", "data-step") == paused != "0"
    for _ in range(len(data["steps"])):
        page.keyboard.press("ArrowRight")
    assert page.inner_text("#counter") == f"step {len(data['steps'])} / {len(data['steps'])}"
    assert "?" not in "".join(_shown(page).values())
    assert seen["errors"] == [] and seen["requests"] == [out.as_uri()]
    page.close()
