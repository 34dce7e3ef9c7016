"""Live preview: ``mkdocs serve`` on the project's mkdocs.yml, or on a throw-away one.

For models given on the command line (or in pyproject.toml without a mkdocs.yml that uses the
plugin), modeldoc writes a small project into a temporary folder whose mkdocs.yml lists the
models in the plugin's config. The plugin then does the rest: it renders the pages in memory
and watches the source files of the models (and of the user's modules they import), so
editing a model rebuilds the preview.
"""

from __future__ import annotations

import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from modeldoc.errors import ModeldocError
from modeldoc.options import ModelOptions, SiteOptions


def plugin_entry(options: ModelOptions) -> dict[str, Any]:
    """A validated model as an entry of the plugin's ``models:`` (the inverse of model_options)."""
    entry: dict[str, Any] = {
        "target": options.target,
        "title": options.title,
        "slug": options.slug,
        "depth": options.depth,
        "sections": list(options.sections),
        "page_size": options.page_size,
        "probe_device": options.probe_device,
    }
    if options.kwargs:
        entry["kwargs"] = dict(options.kwargs)
    if options.example:
        entry["example"] = options.example
    if options.inputs:
        entry["inputs"] = [
            {
                "shape": i.axes(),
                "dtype": i.dtype,
                "name": i.keyword,
            }
            for i in options.inputs
        ]
    return entry


def standalone_config(site: SiteOptions, folder: Path, *, cache: bool = True) -> Path:
    """Write a mkdocs.yml (and an empty docs folder) into `folder` that documents `site.models`.

    `cache` lets the plugin reuse the descriptions saved by earlier builds (and save its own).
    """
    from modeldoc.site import build as site_builder

    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    config = site_builder.mkdocs_config(site, [], docs, folder / "site")
    del config["nav"]
    config["extra_css"] = []  # the plugin adds its stylesheet
    plugin: dict[str, Any] = {
        "models": [plugin_entry(model) for model in site.models],
        "diagrams": site.diagrams,
        "folder": "",
        "nav_section": "",
        "cache": cache,  # in modeldoc's cache folder, which `modeldoc build` shares
    }
    if site.custom_templates is not None:
        plugin["custom_templates"] = str(site.custom_templates.resolve())
    plugin["knowledge"] = list(dict.fromkeys(str(folder) for model in site.models for folder in model.knowledge))
    config["plugins"] = ["search", {"modeldoc": plugin}]
    path = folder / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@contextmanager
def standalone_project(site: SiteOptions, *, cache: bool = True) -> Iterator[Path]:
    """A temporary project for `site`; yields its mkdocs.yml and removes it afterwards.

    Also when the process is stopped by SIGTERM (a service manager, ``kill``, an IDE's stop
    button), which then unwinds like Ctrl-C instead of ending the process on the spot.
    """
    with terminate_as_interrupt(), tempfile.TemporaryDirectory(prefix="modeldoc-serve-") as folder:
        yield standalone_config(site, Path(folder), cache=cache)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM raises KeyboardInterrupt, so ``finally:`` clauses and MkDocs' own cleanup run."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(config_file: Path, *, dev_addr: str | None = None, open_in_browser: bool = False) -> None:
    """Run MkDocs' development server on `config_file` until interrupted (Ctrl-C or SIGTERM)."""
    from mkdocs.commands import serve as mkdocs_serve
    from mkdocs.exceptions import MkDocsException

    try:
        with terminate_as_interrupt():
            mkdocs_serve.serve(config_file=str(config_file), dev_addr=dev_addr, open_in_browser=open_in_browser)
    except (MkDocsException, SystemExit) as err:
        raise ModeldocError(f"MkDocs could not serve {config_file}: {err}") from err
