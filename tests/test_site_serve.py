"""site.serve: the throw-away project live preview writes for models given on the command line.

The servers themselves run in tests/test_preview.py.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from modeldoc import options
from modeldoc.errors import ModeldocError
from modeldoc.site import serve


def test_plugin_entries_round_trip_through_the_options(tmp_path: Path) -> None:
    entry = {
        "target": "tests.models:make_tiny",
        "kwargs": {"width": 6},
        "input_shapes": [[2, "L=4"]],
        "input_dtype": "long",
        "title": "T",
        "depth": 3,
        "sections": ["overview", "layers"],
    }
    validated = options.model_options(entry)
    assert options.model_options(serve.plugin_entry(validated)) == validated
    site = options.SiteOptions(models=(validated,))
    config_file = serve.standalone_config(site, tmp_path)
    from mkdocs.config import load_config

    cfg = load_config(config_file=str(config_file))
    modeldoc = cfg.plugins["modeldoc"]
    modeldoc.on_config(cfg)
    assert modeldoc.models == (validated,)


def test_the_standalone_project_lists_every_model_with_its_options_for_the_plugin(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    templates = tmp_path / "templates"
    templates.mkdir()
    tiny = options.model_options({"target": "tests.models:Tiny", "input_shape": [2, 4]})
    tiny = replace(tiny, knowledge=(knowledge,))  # as options resolves a knowledge: folder
    wide = options.model_options({"target": "tests.models:make_tiny", "kwargs": {"width": 6}, "title": "Wide"})
    site = options.SiteOptions(models=(tiny, wide), diagrams=False, custom_templates=templates)
    config_file = serve.standalone_config(site, tmp_path / "preview")
    assert config_file == tmp_path / "preview" / "mkdocs.yml"
    assert (tmp_path / "preview" / "docs").is_dir() and not list((tmp_path / "preview" / "docs").iterdir())
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    assert "nav" not in config and config["extra_css"] == []  # the plugin adds the models' pages and stylesheet
    search, (name, plugin) = config["plugins"][0], *config["plugins"][1].items()
    assert (search, name) == ("search", "modeldoc")
    assert [m["target"] for m in plugin["models"]] == ["tests.models:Tiny", "tests.models:make_tiny"]
    assert plugin["models"][1]["kwargs"] == {"width": 6} and plugin["models"][1]["title"] == "Wide"
    assert plugin["diagrams"] is False and plugin["nav_section"] == "" and plugin["folder"] == ""
    assert plugin["custom_templates"] == str(templates.resolve())
    assert plugin["knowledge"] == [str(knowledge)]


def test_the_temporary_project_is_removed_afterwards() -> None:
    site = options.SiteOptions(models=(options.model_options({"target": "tests.models:Tiny"}),))
    with serve.standalone_project(site) as config_file:
        folder = config_file.parent
        assert config_file.is_file() and folder.name.startswith("modeldoc-serve-")
    assert not folder.exists()


def test_sigterm_unwinds_like_ctrl_c_inside_the_block_and_not_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with pytest.raises(KeyboardInterrupt), serve.terminate_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.5)  # let the handler run (it runs between bytecodes of this thread)
        finally:
            cleaned.append("finally ran")
    assert cleaned == ["finally ran"]
    assert signal.getsignal(signal.SIGTERM) is before


def test_outside_the_main_thread_sigterm_is_left_alone() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def worker() -> None:
        with serve.terminate_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=10)
    assert seen == [before]


def test_a_config_mkdocs_cannot_serve_is_one_modeldoc_error(tmp_path: Path) -> None:
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nplugins:\n  - no-such-plugin\n", encoding="utf-8")
    with pytest.raises(ModeldocError, match=r"^MkDocs could not serve .*mkdocs\.yml: "):
        serve.serve(tmp_path / "mkdocs.yml", dev_addr="127.0.0.1:0")
