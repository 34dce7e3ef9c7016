"""What the tests share, one module per job; test modules import their helpers from here.

- `tests.helpers.specs`: descriptions of fixture models (`spec_of`, `describe_live`), layers
  built by hand (`layer`, `linear`, `hp`), the modeldoc/1 schema and round-trip checks, and
  lookups in a description's JSON.
- `tests.helpers.traces`: `TraceBuilder`, a forward pass written op by op as the probe records
  it; the hand-built traces of the diagram fixtures; the derivation rule a tensor's producer
  answers with.
- `tests.helpers.golden`: files in tests/golden compared with output, rewritten by
  ``pytest --update-goldens``.
- `tests.helpers.run`: the ``modeldoc`` command in-process and as a subprocess, Python in a
  subprocess, and ``mkdocs serve`` / ``modeldoc serve`` on a free port.
- `tests.helpers.sites`: MkDocs projects and validated configs, sites built for real, and the
  text of their pages.
- `tests.helpers.diagrams`: DOT statements by node title, and SVG drawn by the real ``dot``.
- `tests.helpers.snapshot`: what describing a model must leave as it was (needs torch).
- `tests.helpers.compare`: descriptions made with shortcut switches on and off (`switched`,
  `both_ways`), as the CLI writes their JSON, and the small configs and benchmark models they
  describe (needs torch).
- `tests.helpers.browser`: a folder served on 127.0.0.1, and Debian's Chromium.

The fixture models live beside the tests: tests/models.py (one per case a page must get right),
tests/hostile.py, tests/deep_models.py and tests/random_models.py (the seeded generator).
Only `snapshot` and `compare` import torch when imported: the notorch tests use the rest on Pythons
without torch, and the fixtures in tests/conftest.py come from here.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
GOLDEN = TESTS / "golden"
ARTIFACTS = REPO / "test-artifacts"
"""Screenshots the browser tests leave for a person to look at (not compared)."""
FASHION = "modeldoc.examples.fashion:Network"
"""The tutorial CNN, the bundled example most tests build."""
LLAMA = ["modeldoc.examples.llama:make_llama_70b", "--input-shape", "1,L=16", "--input-dtype", "long"]
"""The 70B LLaMA shape on the meta device, on the command line: the bundled example that takes longest."""
