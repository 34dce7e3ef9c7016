"""The pictures of the weights in a real browser: every image loads, no console errors, both palettes.

One site is built with the real ``modeldoc`` command for the trained digits CNN (``--weights``),
served on 127.0.0.1 and opened in Debian's Chromium in the light and the dark palette. The
picture's own frame must stand out from the page around it, and the histograms (drawn in
``currentColor``) must be visible on it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modeldoc.examples.digits import WEIGHTS
from modeldoc.pictures import FRAME
from tests.helpers.browser import chromium, contrast, over, serve_folder

pytestmark = pytest.mark.browser
MODELDOC = Path(sys.executable).with_name("modeldoc")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("weights") / "site"
    args = ["build", "modeldoc.examples.digits:Network", "--input-shape", "1,1,8,8", "--weights", str(WEIGHTS)]
    result = subprocess.run([str(MODELDOC), *args, "--out", str(out)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    with serve_folder(out) as url:
        yield url


_IMAGES = """() => [...document.querySelectorAll('figure.modeldoc-picture img')].map(img => ({
  src: img.getAttribute('src'), alt: img.alt, complete: img.complete, natural: img.naturalWidth,
  shown: img.getBoundingClientRect().width,
}))"""

_BACKGROUND = """(selector) => {
  let node = document.querySelector(selector);
  const layers = [];
  while (node && node.nodeType === 1) {
    const bg = getComputedStyle(node).backgroundColor.match(/[\\d.]+/g).map(Number);
    if (bg.length === 3) bg.push(1);
    if (bg[3] > 0) layers.push(bg);
    node = node.parentElement;
  }
  const fg = getComputedStyle(document.querySelector('.modeldoc-histogram')).color.match(/[\\d.]+/g).map(Number);
  return {layers, fg};
}"""


@pytest.mark.parametrize(("scheme", "palette"), [("light", "default"), ("dark", "slate")])
def test_every_picture_loads_and_stands_out_in_both_palettes(site: str, scheme: str, palette: str) -> None:
    with chromium() as browser:
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.goto(f"{site}network/", wait_until="networkidle")
        assert page.evaluate("() => document.body.getAttribute('data-md-color-scheme')") == palette
        for image in page.locator("figure.modeldoc-picture img").all():
            image.scroll_into_view_if_needed()
            image.evaluate("img => img.decode()")  # lazily loaded: waits for this one to arrive, rejects if it cannot
        page.wait_for_load_state("networkidle")
        images = page.evaluate(_IMAGES)
        assert [Path(i["src"]).name for i in images] == [
            "conv1.weight.png",
            "conv2.weight.png",
            "fc1.weight.png",
            "fc2.weight.png",
            "out.weight.png",
        ]
        for image in images:
            assert image["complete"] and image["natural"] > 0, image
            assert image["shown"] >= image["natural"], image  # enlarged, never shrunk below one pixel per value
            assert image["alt"].startswith(("All", "Heat map")), image
        assert not errors, errors
        assert not failed, failed
        colours = page.evaluate(_BACKGROUND, "figure.modeldoc-picture")
        background: tuple[float, float, float] = (255, 255, 255)
        for layer in reversed(colours["layers"]):
            background = over(tuple(layer), background)
        assert contrast(FRAME, background) >= 3.0, (scheme, background)
        histogram = over(tuple(colours["fg"] + [1] * (4 - len(colours["fg"]))), background)
        assert contrast(histogram, background) >= 3.0, (scheme, histogram, background)
        context.close()
