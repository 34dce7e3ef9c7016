"""The ``modeldoc`` command. `ModeldocError` becomes one line on stderr and exit code 1."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from modeldoc import __version__
from modeldoc.errors import ConfigError, ModeldocError
from modeldoc.graph import require_dot
from modeldoc.options import ModelOptions, SiteOptions, model_options, read_pyproject, site_options
from modeldoc.render import do_shape
from modeldoc.spec import ModelSpec

F = TypeVar("F", bound=Callable[..., Any])


class _Failed(click.ClickException):
    """A ModeldocError on its way to the terminal: one line, exit code 1."""

    def __init__(self, err: ModeldocError) -> None:
        super().__init__(" ".join(str(err).split()))


class _BadOption(_Failed):
    """A ConfigError: exit code 2, as click gives its own usage errors."""

    exit_code = 2


def _fail_cleanly(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ModeldocError as err:
            raise (_BadOption if isinstance(err, ConfigError) else _Failed)(err) from err

    return wrapper  # type: ignore[return-value]


def _flags(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator that applies several click decorators, top one first."""

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


_model_flags = _flags(
    click.argument("target", required=False),
    click.option(
        "--input-shape",
        "input_shapes",
        multiple=True,
        metavar="SHAPE",
        help="Example input shape, one per positional input: 1,1,28,28 (name symbolic axes: 1,L=16; "
        "keyword inputs: NAME:1,16).",
    ),
    click.option(
        "--input-dtype",
        "input_dtypes",
        multiple=True,
        metavar="DTYPE",
        help="float32 (default), long for token ids, ...; one for all inputs or one per input.",
    ),
    click.option("--kwargs", "kwargs_json", default="", metavar="JSON", help="Constructor arguments as JSON."),
    click.option("--example", default="", metavar="TARGET", help="A function returning example inputs."),
    click.option(
        "--probe-device",
        type=click.Choice(["meta", "cpu"]),
        default="meta",
        show_default=True,
        help="Where the shape probe runs; meta needs no memory and no compute.",
    ),
    click.option(
        "--probe-timeout",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        metavar="SECONDS",
        help="Time all passes of the shape probe may spend in the model's forward; 0 for no limit.",
    ),
    click.option("--title", default="", help="Title of the model's page."),
    click.option("--depth", type=click.IntRange(min=1), default=2, show_default=True, help="Diagram depth."),
)
"""The flags that describe one model, shared by build, serve and inspect."""


def _entry(
    target: str,
    input_shapes: tuple[str, ...],
    input_dtypes: tuple[str, ...],
    kwargs_json: str,
    example: str,
    probe_device: str,
    probe_timeout: float,
    title: str,
    depth: int,
) -> ModelOptions:
    try:
        kwargs = json.loads(kwargs_json) if kwargs_json else {}
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"--kwargs is not valid JSON ({err.msg})", "write it like --kwargs '{\"width\": 64}'"
        ) from err
    entry: dict[str, Any] = {
        "target": target,
        "kwargs": kwargs,
        "input_shapes": list(input_shapes),
        "example": example,
        "probe_device": probe_device,
        "probe_timeout": probe_timeout,
        "title": title,
        "depth": depth,
    }
    if input_dtypes:
        entry["input_dtype"] = list(input_dtypes) if len(input_dtypes) > 1 else input_dtypes[0]
    return model_options(entry, where="the command line")


def _describe(options: ModelOptions) -> ModelSpec:
    from modeldoc.pipeline import describe

    spec = describe(options)
    for warning in spec.warnings:
        click.secho(f"warning: {options.target}: {warning}", fg="yellow", err=True)
    return spec


_site_flags = _flags(
    click.option("--site-name", default="", help="Name of the site."),
    click.option(
        "--templates",
        "custom_templates",
        type=click.Path(path_type=Path, exists=True, file_okay=False),
        default=None,
        help="Folder of templates that override the shipped ones.",
    ),
    click.option("--no-diagrams", is_flag=True, help="Leave out the Graphviz diagrams (no dot needed)."),
)
"""The flags that shape a site, shared by build and serve."""


@click.group()
@click.version_option(__version__, prog_name="modeldoc")
def main() -> None:
    """Document the architecture of PyTorch models as a website."""


@main.command()
@_model_flags
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder (default: site).")
@_site_flags
@click.option(
    "--markdown-only",
    is_flag=True,
    help="Write plain Markdown + SVG pages into --docs-dir for any engine that reads mkdocs.yml; build no site.",
)
@click.option(
    "--docs-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for --markdown-only pages, e.g. docs/models (new, empty, or written by modeldoc before).",
)
@_fail_cleanly
def build(
    target: str | None,
    out: Path | None,
    site_name: str,
    custom_templates: Path | None,
    no_diagrams: bool,
    markdown_only: bool,
    docs_dir: Path | None,
    **flags: Any,
) -> None:
    """Build a documentation site for TARGET (package.module:Name or path/file.py:Name).

    With no TARGET, build the project's mkdocs.yml when it uses the modeldoc plugin (into its
    site_dir, or --out), otherwise the models configured in pyproject.toml's [tool.modeldoc].
    """
    from modeldoc import site as site_builder

    started = time.perf_counter()
    if markdown_only and docs_dir is None:
        raise ConfigError("--markdown-only needs --docs-dir", "name the folder to write, e.g. --docs-dir docs/models")
    if docs_dir is not None and not markdown_only:
        raise ConfigError("--docs-dir only applies to --markdown-only", "add --markdown-only, or use --out for a site")
    if not no_diagrams:
        require_dot()
    config_file = None if target or markdown_only else site_builder.project_config(Path.cwd())
    if config_file is not None:
        with _mkdocs_log(logging.WARNING):
            built = site_builder.build_project(
                config_file, out=out, site_name=site_name, custom_templates=custom_templates, diagrams=not no_diagrams
            )
        elapsed = time.perf_counter() - started
        click.echo(f"built {built.pages} pages from {config_file.name} into {built.out} in {elapsed:.1f}s")
        return
    options = _site(target, out, site_name, custom_templates, no_diagrams, flags)
    specs = tuple(_describe(model) for model in options.models)
    if markdown_only:
        assert docs_dir is not None
        built, _ = site_builder.write_markdown(options, specs, docs_dir)
        _markdown_hints(docs_dir)
    else:
        built = site_builder.build_site(options, specs)
    elapsed = time.perf_counter() - started
    click.echo(f"built {built.pages} pages for {len(specs)} model(s) into {built.out} in {elapsed:.1f}s")


def _site(
    target: str | None,
    out: Path | None,
    site_name: str,
    custom_templates: Path | None,
    no_diagrams: bool,
    flags: dict[str, Any],
) -> SiteOptions:
    if target:
        return SiteOptions(
            models=(_entry(target, **flags),),
            out=out or Path("site"),
            site_name=site_name or "Model documentation",
            custom_templates=custom_templates,
            diagrams=not no_diagrams,
        )
    return _configured(out, site_name, custom_templates, no_diagrams)


def _markdown_hints(docs_dir: Path) -> None:
    """Tell the user what their mkdocs.yml needs for the pages just written."""
    from modeldoc.site import MARKDOWN_EXTENSIONS

    folder = docs_dir.resolve()
    root = (Path.cwd() / "docs").resolve()
    rel = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else folder.name
    click.echo("the pages need, in mkdocs.yml:")
    click.echo(f"  extra_css: [{rel}/assets/modeldoc.css]")
    click.echo(f"  markdown_extensions: [{', '.join(MARKDOWN_EXTENSIONS)}]")
    click.echo(f"  nav (if written out): - Models: {rel}/index.md")


def _configured(out: Path | None, site_name: str, custom_templates: Path | None, no_diagrams: bool) -> SiteOptions:
    pyproject = Path.cwd() / "pyproject.toml"
    table = read_pyproject(pyproject)
    if not table or not table.get("models"):
        raise ConfigError(
            "no TARGET given and pyproject.toml has no [tool.modeldoc] models",
            "pass a target such as package.module:Net, or list models under [[tool.modeldoc.models]]",
        )
    options = site_options(table, where=str(pyproject), base=Path.cwd())
    changes: dict[str, Any] = {"diagrams": not no_diagrams}
    if out is not None:
        changes["out"] = out
    if site_name:
        changes["site_name"] = site_name
    if custom_templates is not None:
        changes["custom_templates"] = custom_templates
    return replace(options, **changes)


@main.command()
@_model_flags
@_site_flags
@click.option("--dev-addr", default=None, metavar="IP:PORT", help="Where to serve (default: 127.0.0.1:8000).")
@click.option("--open", "open_in_browser", is_flag=True, help="Open the preview in the default browser.")
@_fail_cleanly
def serve(
    target: str | None,
    site_name: str,
    custom_templates: Path | None,
    no_diagrams: bool,
    dev_addr: str | None,
    open_in_browser: bool,
    **flags: Any,
) -> None:
    """Preview the documentation of TARGET live; editing the model's source rebuilds it.

    With no TARGET, serve the project's mkdocs.yml when it uses the modeldoc plugin, otherwise
    the models configured in pyproject.toml's [tool.modeldoc].
    """
    from modeldoc import serve as preview
    from modeldoc import site as site_builder

    if not no_diagrams:
        require_dot()
    with _mkdocs_log(logging.INFO):
        config_file = None if target else site_builder.project_config(Path.cwd())
        if config_file is not None:
            if custom_templates is not None or no_diagrams or site_name:
                raise ConfigError(
                    f"--site-name, --templates and --no-diagrams do not apply to {config_file.name}",
                    "set them in that file (site_name, and the modeldoc plugin's custom_templates and diagrams)",
                )
            preview.serve(config_file, dev_addr=dev_addr, open_in_browser=open_in_browser)
            return
        options = _site(target, None, site_name, custom_templates, no_diagrams, flags)
        with preview.standalone_project(options) as config_file:
            preview.serve(config_file, dev_addr=dev_addr, open_in_browser=open_in_browser)


@contextmanager
def _mkdocs_log(level: int) -> Iterator[None]:
    """Show MkDocs' messages from `level` up on stderr, as the mkdocs command would.

    Errors are left out: the one that stops the build becomes the command's error line.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-7s -  %(message)s"))
    handler.setLevel(level)
    handler.addFilter(lambda record: record.levelno < logging.ERROR)
    mkdocs_log = logging.getLogger("mkdocs")
    previous = mkdocs_log.level
    mkdocs_log.addHandler(handler)
    mkdocs_log.setLevel(min(level, previous) if previous else level)
    try:
        yield
    finally:
        mkdocs_log.removeHandler(handler)
        mkdocs_log.setLevel(previous)


@main.command()
@_model_flags
@click.option("--json", "as_json", is_flag=True, help="Print the modeldoc/1 JSON description.")
@_fail_cleanly
def inspect(target: str | None, as_json: bool, **flags: Any) -> None:
    """Describe TARGET on the terminal, or as JSON with --json."""
    if not target:
        raise ConfigError("inspect needs a TARGET", "pass one such as package.module:Net")
    spec = _describe(_entry(target, **flags))
    if as_json:
        # in chunks: json.dump makes millions of small writes for a big model, json.dumps one huge string
        chunks: list[str] = []
        for piece in json.JSONEncoder(indent=1, ensure_ascii=False).iterencode(spec.to_json()):
            chunks.append(piece)
            if len(chunks) >= 65536:
                sys.stdout.write("".join(chunks))
                chunks.clear()
        sys.stdout.write("".join(chunks) + "\n")
        return
    click.echo(f"{spec.type}: {spec.total_params:,} parameters ({spec.trainable_params:,} trainable)")
    for layer in spec.layers:
        shapes = "; ".join(do_shape(dims) for dims in layer.output_dims) or "-"
        click.echo(
            f"  {'  ' * (layer.depth - 1)}{layer.path:<30} {layer.type_name:<20} {shapes:<24} {layer.own_params:>12,}"
        )
