"""The ``modeldoc`` command.

Every failure reaches the terminal as one line: a `ModeldocError` (exit 1, or 2 for a bad
option or configuration), click's own usage errors (exit 2), an interruption (130 for Ctrl-C,
143 for SIGTERM) and anything unexpected (exit 1, with the traceback only under
``MODELDOC_DEBUG=1``). Nothing here imports torch until a model is described, so ``--help``
and option errors are instant.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, replace
from functools import wraps
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar

import click

from modeldoc import __version__, progress
from modeldoc.errors import ConfigError, ModeldocError
from modeldoc.options import (
    ModelOptions,
    SiteOptions,
    absolute,
    knowledge_folders,
    model_options,
    read_pyproject,
    site_options,
)
from modeldoc.spec import ModelSpec, is_checkpoint_file, is_description_file
from modeldoc.terminal import one_line, terminal_safe

F = TypeVar("F", bound=Callable[..., Any])

ISSUES = "https://github.com/modeldoc/modeldoc/issues"
_PAGE_PHRASES = {
    # The probe's message is written for the page, where the derivations sit below it.
    "the derivations below point at": "the derivations on the model's page point at",
}
"""Phrases of page text that mean something else on a terminal, and what the terminal says instead."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C, so that every ``finally`` cleans up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Failed(click.ClickException):
    """A ModeldocError on its way to the terminal: one line, exit code 1."""

    def __init__(self, err: ModeldocError) -> None:
        super().__init__(str(err))


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


class _Ended(Exception):
    """How a command ended other than by returning or by click: what to say and the exit code.

    A plain Exception on purpose: click's `main` intercepts KeyboardInterrupt, SystemExit-like
    and pipe errors in ways that print more than one line; this passes through it untouched.
    """

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _Modeldoc(click.Group):
    """The command group, whose `main` turns whatever ends the run into one line and an exit code."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> NoReturn:  # type: ignore[override]
        """Run the command line; exit with its status."""
        extra["standalone_mode"] = False
        with _signals_as_exceptions():
            code = _run(lambda: super(_Modeldoc, self).main(args, prog_name, **extra))
        if args is None:  # the process's own command line: the process ends here
            # Python's shutdown runs the cycle collector over every object left (torch's modules,
            # the model, MkDocs): 1 to 3 seconds that change nothing. Frozen objects are skipped;
            # exit handlers and finalizers still run as usual.
            gc.freeze()
        sys.exit(code)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; whatever escapes it (but click's own exceptions) becomes an `_Ended`."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, _Ended):
            raise
        except BaseException as err:  # the last line of defence: one line, never a traceback
            raise _ended(err) from err


def _ended(err: BaseException) -> _Ended:
    if isinstance(err, Terminated):
        name = signal.Signals(err.signum).name
        return _Ended(f"stopped by {name}; the previous output is unchanged", 128 + err.signum)
    if isinstance(err, KeyboardInterrupt):
        return _Ended("interrupted; the previous output is unchanged", 130)
    if isinstance(err, ModeldocError):
        return _Ended(str(err), 2 if isinstance(err, ConfigError) else 1)
    if isinstance(err, BrokenPipeError):
        # The reader went away (`modeldoc inspect ... | head`): nothing more to say to it.
        _silence_stdout()
        return _Ended("", 1)
    if isinstance(err, SystemExit):
        code = "" if err.code is None else repr(err.code)
        return _Ended(
            f"code that modeldoc ran (the model's?) called sys.exit({code}); "
            "remove that call or guard it with if __name__ == '__main__':",
            1,
        )
    if os.environ.get("MODELDOC_DEBUG"):
        traceback.print_exception(type(err), err, err.__traceback__)
    text = str(err) if len(str(err)) <= 300 else str(err)[:297] + "..."
    return _Ended(
        f"modeldoc failed unexpectedly ({type(err).__name__}: {text}); please report it at {ISSUES} "
        "(MODELDOC_DEBUG=1 shows the traceback)",
        1,
    )


def _run(call: Callable[[], Any]) -> int:  # noqa: PLR0911 - one return per way a run can end
    """Call the command line and translate how it ended into an exit code and at most one line."""
    try:
        result = call()
    except _Ended as err:
        return _fail(err.message, err.code) if err.message else err.code
    except click.exceptions.NoArgsIsHelpError as err:  # `modeldoc` alone: the help, as asked for
        click.echo(err.ctx.get_help() if err.ctx else err.format_message())
        return 0
    except click.UsageError as err:
        hint = f"; see '{err.ctx.command_path} -h'" if err.ctx is not None else ""
        return _fail(f"{err.format_message().rstrip('.')}{hint}", err.exit_code)
    except click.ClickException as err:
        return _fail(err.format_message(), err.exit_code)
    except click.exceptions.Exit as err:
        return err.exit_code
    except click.Abort as err:  # Ctrl-C while click itself was busy (parsing, prompting)
        ended = _ended(err.__cause__) if isinstance(err.__cause__, KeyboardInterrupt) else _Ended("aborted", 1)
        return _fail(ended.message, ended.code)
    except BaseException as err:
        ended = _ended(err)
        return _fail(ended.message, ended.code) if ended.message else ended.code
    return result if isinstance(result, int) else 0


def _fail(message: str, code: int) -> int:
    progress.clear()
    click.echo(f"Error: {one_line(message)}", err=True)
    return code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


@contextmanager
def _signals_as_exceptions() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into `Terminated` while the command runs, so staging folders go."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    previous = {}
    try:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread: leave the signals alone
        pass
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _flags(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator that applies several click decorators, top one first."""

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


_describe_flags = _flags(
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
    click.option(
        "--probe-memory",
        default="",
        metavar="SIZE",
        help="Memory a materialised copy of a meta model's weights may take for a real pass (8GiB, 512MiB; "
        "0: never); default the smaller of 4 GiB and half the memory available.",
    ),
    click.option(
        "--knowledge",
        multiple=True,
        metavar="DIR",
        help="A folder of knowledge entries (YAML) for layers modeldoc does not know; repeat for several.",
    ),
    click.option(
        "--weights",
        default="",
        metavar="FILE",
        help="A checkpoint (.safetensors, or a state dict saved with torch.save) to load into the model; "
        "tensors that do not match are reported by name. Turns on --show-weights.",
    ),
    click.option(
        "--show-weights",
        is_flag=True,
        help="Read every weight's values: statistics, a histogram and pictures (filters, heat maps, heads).",
    ),
)
"""The flags that say how to describe a model, shared by build, serve, inspect, knowledge check, diff and check."""

_model_flags = _flags(click.argument("target", required=False), _describe_flags)
"""A model's TARGET and the flags that describe it."""

_page_flags = _flags(
    click.option("--title", default="", help="Title of the model's page."),
    click.option(
        "--depth", type=click.IntRange(min=1), default=2, show_default=True, help="Levels drawn in one diagram."
    ),
)
"""The flags that shape a model's pages, shared by build and serve."""

_output_flags = _flags(
    click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors."),
    click.option("-v", "--verbose", is_flag=True, help="Print each phase of the work with its time, also when piped."),
)
"""How much the command says on the terminal."""

_strict_flag = click.option(
    "--strict", is_flag=True, help="Fail (exit 1, nothing written) when the probe failed or a warning was printed."
)


def _entry(
    target: str,
    input_shapes: tuple[str, ...],
    input_dtypes: tuple[str, ...],
    kwargs_json: str,
    example: str,
    probe_device: str,
    probe_timeout: float,
    probe_memory: str = "",
    knowledge: tuple[str, ...] = (),
    title: str = "",
    depth: int = 2,
    weights: str = "",
    show_weights: bool = False,
) -> ModelOptions:
    if is_description_file(target):
        _refuse_probe_flags(target)
    try:
        kwargs = json.loads(kwargs_json) if kwargs_json else {}
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"--kwargs is not valid JSON ({err.msg})", "write it like --kwargs '{\"width\": 64}'"
        ) from err
    if not isinstance(kwargs, dict):
        raise ConfigError("--kwargs is not a JSON object", "write it like --kwargs '{\"width\": 64}'")
    entry: dict[str, Any] = {
        "target": target,
        "kwargs": kwargs,
        "input_shapes": list(input_shapes),
        "example": example,
        "probe_device": probe_device,
        "probe_timeout": probe_timeout,
        "probe_memory": probe_memory or None,
        "title": title,
        "depth": depth,
        "weights": weights,
        "show_weights": show_weights,
    }
    if input_dtypes:
        entry["input_dtype"] = list(input_dtypes) if len(input_dtypes) > 1 else input_dtypes[0]
    options = model_options(entry, where="the command line")
    return replace(options, knowledge=knowledge_folders(list(knowledge), where="--knowledge", base=Path.cwd()))


@dataclass(frozen=True)
class _Output:
    """What the command says on the terminal, from -q, -v and --strict."""

    quiet: bool = False
    verbose: bool = False
    strict: bool = False

    def reporter(self) -> progress.Reporter:
        """Progress on stderr: live on a terminal, a line per phase with -v, nothing with -q or when piped."""
        if self.quiet:
            return progress.Reporter()
        stream = sys.stderr
        live = progress.is_terminal(stream)
        return progress.Terminal(stream, live=live, verbose=self.verbose, color=progress.use_color(stream))

    def say(self, text: str) -> None:
        """A result line on stdout (unless quiet)."""
        if not self.quiet:
            click.echo(terminal_safe(text))


_cache_flag = click.option(
    "--cache/--no-cache",
    "use_cache",
    default=True,
    show_default=True,
    help="Reuse each model's saved description while the model, its options and modeldoc are unchanged "
    "(saved in modeldoc's cache folder, ~/.cache/modeldoc or $MODELDOC_CACHE_DIR); --no-cache describes "
    "afresh and saves nothing.",
)


def _output(quiet: bool, verbose: bool, strict: bool = False) -> _Output:
    if quiet and verbose:
        raise ConfigError("--quiet and --verbose contradict each other", "give one of them")
    return _Output(quiet=quiet, verbose=verbose, strict=strict)


def _describe_all(
    models: tuple[ModelOptions, ...], output: _Output, cache: Path | None = None
) -> tuple[ModelSpec, ...]:
    """Describe every model, print their warnings, and stop here under --strict when there were any.

    With a `cache` folder, a description saved there is reused while the model is unchanged.
    """
    from modeldoc.pipeline import load_problems
    from modeldoc.site import cache as saved

    specs = []
    warned = 0
    for options in models:
        with _user_output_to_stderr():
            spec = saved.describe(options, cache)
        for warning in spec.warnings:
            _warn(f"{options.target}: {terminal_text(warning)}")
        if spec.checkpoint is not None and not spec.checkpoint.complete:
            for line in load_problems(spec.checkpoint):
                _warn(f"{options.target}: {line}")
        warned += len(spec.warnings)
        specs.append(spec)
    if output.strict and warned:
        raise ModeldocError(
            f"--strict: {warned} warning{'s' if warned > 1 else ''} (above); nothing was written; "
            "fix what they say, or leave out --strict"
        )
    return tuple(specs)


def terminal_text(warning: str) -> str:
    """A warning written for the page, worded for the terminal (which has no "below")."""
    for page, terminal in _PAGE_PHRASES.items():
        warning = warning.replace(page, terminal)
    return warning


def _warn(text: str) -> None:
    progress.clear()
    stream = sys.stderr
    click.secho(f"warning: {one_line(text)}", fg="yellow", err=True, color=progress.use_color(stream))


@contextmanager
def _user_output_to_stderr() -> Iterator[None]:
    """Send whatever the user's code prints to stderr, so that stdout holds only modeldoc's output."""
    sys.stdout.flush()
    saved = None
    try:
        if sys.stdout.fileno() == 1 and sys.stderr.fileno() == 2:
            # Also what C code or a subprocess writes to the file descriptor itself.
            saved = os.dup(1)
            os.dup2(2, 1)
    except (AttributeError, OSError, ValueError):  # an in-memory stdout (tests, notebooks)
        saved = None
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


@click.group(name="modeldoc", cls=_Modeldoc, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="modeldoc")
def main() -> None:
    """Document the architecture of PyTorch models as a website."""


@main.command()
@_model_flags
@_page_flags
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder (default: site).")
@click.option("--site-name", default="", help="Name of the site.")
@click.option(
    "--templates",
    "custom_templates",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="Folder of templates that override the shipped ones.",
)
@click.option("--no-diagrams", is_flag=True, help="Leave out the Graphviz diagrams (no dot needed).")
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
@_cache_flag
@_strict_flag
@_output_flags
@_fail_cleanly
def build(
    target: str | None,
    out: Path | None,
    site_name: str,
    custom_templates: Path | None,
    no_diagrams: bool,
    markdown_only: bool,
    docs_dir: Path | None,
    use_cache: bool,
    strict: bool,
    quiet: bool,
    verbose: bool,
    **flags: Any,
) -> None:
    """Build a documentation site for TARGET (package.module:Name or path/file.py:Name).

    TARGET may also be a description saved with `modeldoc inspect TARGET ... --json > NAME.json`:
    its site is built from that file, without importing the model or torch.

    With no TARGET, build the project's mkdocs.yml when it uses the modeldoc plugin (into its
    site_dir, or --out), otherwise the models configured in pyproject.toml's [tool.modeldoc].
    """
    from modeldoc.diagrams.svg import require_dot
    from modeldoc.site import build as site_builder

    started = time.perf_counter()
    output = _output(quiet, verbose, strict)
    if markdown_only and docs_dir is None:
        raise ConfigError("--markdown-only needs --docs-dir", "name the folder to write, e.g. --docs-dir docs/models")
    if docs_dir is not None and not markdown_only:
        raise ConfigError("--docs-dir only applies to --markdown-only", "add --markdown-only, or use --out for a site")
    if markdown_only and out is not None:
        raise ConfigError("--out does not apply to --markdown-only", "name the folder with --docs-dir")
    out = absolute(out) if out is not None else None
    docs_dir = absolute(docs_dir) if docs_dir is not None else None
    if not no_diagrams:
        require_dot()
    config_file = None if target or markdown_only else site_builder.project_config(Path.cwd())
    if config_file is not None:
        _refuse_model_flags(flags, f"building {config_file.name}")
        with progress.reporting(output.reporter()), _mkdocs_log(logging.INFO if verbose else logging.WARNING):
            built = site_builder.build_project(
                config_file,
                out=out,
                site_name=site_name,
                custom_templates=custom_templates,
                diagrams=not no_diagrams,
                strict=strict,
                cache=use_cache,
            )
        elapsed = time.perf_counter() - started
        output.say(f"built {built.pages} pages from {config_file.name} into {built.out} in {elapsed:.1f}s")
        return
    options = _site(target, out, site_name, custom_templates, no_diagrams, flags)
    destination = docs_dir if docs_dir is not None else options.out
    site_builder.check_destination(destination)
    from modeldoc.site.cache import default_folder

    cache = default_folder() if use_cache else None
    with progress.reporting(output.reporter()), _mkdocs_log(logging.INFO if verbose else logging.WARNING):
        specs = _describe_all(options.models, output, cache)
        if docs_dir is not None:
            built, nav = site_builder.write_markdown(options, specs, docs_dir)
        else:
            built = site_builder.build_site(options, specs, cache)
    if docs_dir is not None:
        _markdown_hints(docs_dir, nav, output)
    elapsed = time.perf_counter() - started
    output.say(f"built {built.pages} pages for {len(specs)} model(s) into {built.out} in {elapsed:.1f}s")


_MODEL_FLAGS = {
    "input_shapes": "--input-shape",
    "input_dtypes": "--input-dtype",
    "kwargs_json": "--kwargs",
    "example": "--example",
    "probe_device": "--probe-device",
    "knowledge": "--knowledge",
    "probe_timeout": "--probe-timeout",
    "probe_memory": "--probe-memory",
    "title": "--title",
    "depth": "--depth",
    "weights": "--weights",
    "show_weights": "--show-weights",
}
_PROBE_FLAGS = (
    "input_shapes",
    "input_dtypes",
    "kwargs_json",
    "example",
    "probe_device",
    "probe_timeout",
    "probe_memory",
)
"""The flags that say how to build and probe a model: a saved description needs none of them."""


def _refuse_probe_flags(target: str) -> None:
    """A saved description holds what the probe found: a probe flag beside it would do nothing."""
    ctx = click.get_current_context()
    for name in _PROBE_FLAGS:
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            raise ConfigError(
                f"{_MODEL_FLAGS[name]} does not apply to the saved description {target}, "
                "which holds what the probe found",
                "leave it out, or describe the model again (modeldoc inspect TARGET ... --json > NAME.json)",
            )


def _refuse_model_flags(flags: dict[str, Any], what: str) -> None:
    """Model flags given without a TARGET would silently do nothing: say so."""
    ctx = click.get_current_context()
    for name in flags:
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            raise ConfigError(
                f"{_MODEL_FLAGS.get(name, name)} needs a TARGET, and {what} takes its models from there",
                "pass a TARGET, or set the option in that configuration",
            )


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
    _refuse_model_flags(flags, "building pyproject.toml's [tool.modeldoc] models")
    return _configured(out, site_name, custom_templates, no_diagrams)


def _markdown_hints(docs_dir: Path, nav: list[Any], output: _Output) -> None:
    """Tell the user what their mkdocs.yml needs for the pages just written, the whole nav included."""
    import yaml

    from modeldoc.site.build import MARKDOWN_EXTENSIONS

    if output.quiet:
        return
    root = (Path.cwd() / "docs").resolve()
    folder = docs_dir.resolve()
    rel = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else folder.name
    section = [_prefixed(entry, rel) for entry in nav]
    if section and isinstance(section[0], dict) and list(section[0]) == ["Home"]:
        section[0] = section[0]["Home"]  # the section's own index page
    text = yaml.safe_dump({"nav": [{"Models": section}]}, sort_keys=False, allow_unicode=True, width=10**6)
    output.say("the pages need, in mkdocs.yml:")
    output.say(f"  extra_css: [{rel}/assets/modeldoc.css]")
    output.say(f"  markdown_extensions: [{', '.join(MARKDOWN_EXTENSIONS)}]")
    output.say("  # and in the nav, where the pages belong (titles as written; paths relative to docs/):")
    for line in text.splitlines():
        output.say(f"  {line}")


def _prefixed(entry: Any, rel: str) -> Any:
    """A nav entry with every page path put under `rel`."""
    if isinstance(entry, str):
        return f"{rel}/{entry}"
    if isinstance(entry, dict):
        return {title: _prefixed(value, rel) for title, value in entry.items()}
    if isinstance(entry, list):
        return [_prefixed(value, rel) for value in entry]
    return entry


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
@_page_flags
@click.option("--site-name", default="", help="Name of the site.")
@click.option(
    "--templates",
    "custom_templates",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="Folder of templates that override the shipped ones.",
)
@click.option("--no-diagrams", is_flag=True, help="Leave out the Graphviz diagrams (no dot needed).")
@click.option("--dev-addr", default=None, metavar="IP:PORT", help="Where to serve (default: 127.0.0.1:8000).")
@click.option("--open", "open_in_browser", is_flag=True, help="Open the preview in the default browser.")
@_cache_flag
@_output_flags
@_fail_cleanly
def serve(
    target: str | None,
    site_name: str,
    custom_templates: Path | None,
    no_diagrams: bool,
    dev_addr: str | None,
    open_in_browser: bool,
    use_cache: bool,
    quiet: bool,
    verbose: bool,
    **flags: Any,
) -> None:
    """Preview the documentation of TARGET live; editing the model's source rebuilds it.

    TARGET may also be a saved description (NAME.json); writing that file anew rebuilds the preview.

    With no TARGET, serve the project's mkdocs.yml when it uses the modeldoc plugin, otherwise
    the models configured in pyproject.toml's [tool.modeldoc].
    """
    from modeldoc.diagrams.svg import require_dot
    from modeldoc.site import build as site_builder
    from modeldoc.site import serve as preview

    output = _output(quiet, verbose)
    if not no_diagrams:
        require_dot()
    level = logging.WARNING if output.quiet else logging.DEBUG if output.verbose else logging.INFO
    with _mkdocs_log(level):
        config_file = None if target else site_builder.project_config(Path.cwd())
        if config_file is not None:
            if custom_templates is not None or no_diagrams or site_name or not use_cache:
                raise ConfigError(
                    f"--site-name, --templates, --no-diagrams and --no-cache do not apply to {config_file.name}",
                    "set them in that file (site_name, and the modeldoc plugin's custom_templates, diagrams and cache)",
                )
            _refuse_model_flags(flags, f"serving {config_file.name}")
            preview.serve(config_file, dev_addr=dev_addr, open_in_browser=open_in_browser)
            return
        options = _site(target, None, site_name, custom_templates, no_diagrams, flags)
        with preview.standalone_project(options, cache=use_cache) as config_file:
            preview.serve(config_file, dev_addr=dev_addr, open_in_browser=open_in_browser)


@contextmanager
def _mkdocs_log(level: int) -> Iterator[None]:
    """Show MkDocs' messages from `level` up on stderr, as the mkdocs command would.

    Errors are left out: the one that stops the build becomes the command's error line.
    """
    handler = _MkDocsMessages()
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


class _MkDocsMessages(logging.StreamHandler):  # type: ignore[type-arg]
    """MkDocs' log lines on stderr, below the progress line and with their text made terminal-safe."""

    def emit(self, record: logging.LogRecord) -> None:
        progress.clear()
        try:
            self.stream.write(terminal_safe(self.format(record)) + "\n")
            self.flush()
        except Exception:
            self.handleError(record)


@main.command()
@_model_flags
@click.option(
    "--depth",
    type=click.IntRange(min=1),
    default=None,
    help="Levels of the module tree the table shows (default: all). Not with --json, which lists every layer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the modeldoc/1 JSON description (and nothing else).")
@_strict_flag
@_output_flags
@_fail_cleanly
def inspect(
    target: str | None,
    depth: int | None,
    as_json: bool,
    strict: bool,
    quiet: bool,
    verbose: bool,
    **flags: Any,
) -> None:
    """Describe TARGET on the terminal: its layers, their arguments and kinds, and totals; or as JSON.

    TARGET may also be a saved description (NAME.json), read without importing the model or torch.
    """
    if not target:
        raise ConfigError("inspect needs a TARGET", "pass one such as package.module:Net")
    if as_json and depth is not None:
        raise ConfigError("--depth shapes the table; --json always lists every layer", "leave out one of them")
    output = _output(quiet, verbose, strict)
    options = _entry(target, **flags)
    with progress.reporting(output.reporter()):
        (spec,) = _describe_all((options,), output)
    if as_json:
        # in chunks: json.dump makes millions of small writes for a big model, json.dumps one huge string
        chunks: list[str] = []
        for piece in json.JSONEncoder(indent=1, ensure_ascii=False).iterencode(spec.to_json()):
            chunks.append(piece)
            if len(chunks) >= 65536:
                sys.stdout.write(_json_terminal_safe("".join(chunks)))
                chunks.clear()
        sys.stdout.write(_json_terminal_safe("".join(chunks)) + "\n")
        return
    from modeldoc.pages.summary import summary_lines

    for line in summary_lines(spec, depth=depth):
        click.echo(line)


_NOT_PLAIN = re.compile(r"[^\x20-\x7e\n]")


def _json_terminal_safe(text: str) -> str:
    """JSON text whose strings hold no raw control or format characters (json escapes only C0 itself)."""

    def escape(match: re.Match[str]) -> str:
        ch = match.group()
        if terminal_safe(ch) == ch:
            return ch
        code = ord(ch)
        if code < 0x10000:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return _NOT_PLAIN.sub(escape, text)


@main.group(name="knowledge")
def knowledge_group() -> None:
    """Work with modeldoc's knowledge of layers: the table of entries and a project's own."""


@knowledge_group.command(name="check")
@_model_flags
@_output_flags
@_fail_cleanly
def knowledge_check(target: str | None, quiet: bool, verbose: bool, **flags: Any) -> None:
    """Check a project's knowledge entries against their schema and against live layers.

    The entries are those of the --knowledge folders (default: knowledge in pyproject.toml's
    [tool.modeldoc]) and of installed packages. Each entry with an example is built and called;
    with TARGET, every layer of that model an added entry describes is checked too. Prints one
    line per problem and exits 1, or a summary and exits 0.
    """
    from modeldoc import knowledge_check as checker

    output = _output(quiet, verbose)
    if target:
        options: ModelOptions | None = _entry(target, **flags)
    else:
        ctx = click.get_current_context()
        for name in flags:
            if name != "knowledge" and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
                flag = _MODEL_FLAGS.get(name, "--" + name.replace("_", "-"))
                raise ConfigError(
                    f"{flag} describes a model, and no TARGET was given",
                    "pass the TARGET whose layers to check, or leave the option out",
                )
        options = None
    given = flags["knowledge"]
    folders = knowledge_folders(list(given), where="--knowledge", base=Path.cwd()) if given else _project_knowledge()
    with progress.reporting(output.reporter()), _user_output_to_stderr():
        report = checker.check(folders, options)
    if not report.entries and not report.problems and options is None:
        raise ConfigError(
            "there are no knowledge entries to check",
            "pass --knowledge DIR (a folder of YAML entries), or set knowledge in pyproject.toml's [tool.modeldoc]",
        )
    if report.problems:
        progress.clear()
        for problem in report.problems:
            click.echo(terminal_safe(one_line(checker.line(problem))))
        count = len(report.problems)
        raise ModeldocError(
            f"{count} problem{'s' if count > 1 else ''} in knowledge entries (listed above); "
            "fix them and run modeldoc knowledge check again"
        )
    for key in report.without_example:
        output.say(f"note: {key} has no example, so it was checked against the schema only; add example: to build it")
    if report.unknown:
        output.say(
            f"note: {len(report.unknown)} layer type{'s' if len(report.unknown) > 1 else ''} of {target} "
            f"{'are' if len(report.unknown) > 1 else 'is'} not in the table and will be described by inference: "
            + ", ".join(report.unknown)
        )
    checked = f"{len(report.entries)} knowledge entr{'ies' if len(report.entries) != 1 else 'y'}"
    parts = [f"{report.examples} built from {'their examples' if report.examples != 1 else 'its example'}"]
    if options is not None:
        parts.append(f"{report.layers} layer{'s' if report.layers != 1 else ''} of {target}")
    output.say(f"checked {checked} ({', '.join(parts)}): no problems")


def _project_knowledge() -> tuple[Path, ...]:
    """The knowledge folders of pyproject.toml's [tool.modeldoc] in the working folder, if any."""
    pyproject = Path.cwd() / "pyproject.toml"
    table = read_pyproject(pyproject) or {}
    return knowledge_folders(table.get("knowledge"), where=str(pyproject), base=Path.cwd())


_DIFF_FORMATS = ("text", "markdown", "json")


def _side(target: str, flags: dict[str, Any]) -> ModelOptions:
    """The options of one model of a diff: the flags describe a model's code, not a saved file."""
    if is_description_file(target) or is_checkpoint_file(target):
        return model_options({"target": target}, where=target)
    return _entry(target, **flags)


@main.command()
@click.argument("old")
@click.argument("new")
@_describe_flags
@click.option(
    "--format",
    "output_format",
    type=click.Choice(_DIFF_FORMATS),
    default="text",
    show_default=True,
    help="text for the terminal, markdown for a pull-request comment, json for tools.",
)
@_output_flags
@_fail_cleanly
def diff(old: str, new: str, output_format: str, quiet: bool, verbose: bool, **flags: Any) -> None:
    """Say what changed between the models OLD and NEW: layers, arguments, shapes, totals, derivations.

    Each of OLD and NEW is a target (package.module:Name), a checkpoint file (model.safetensors) or
    a saved description (NAME.json); the input flags apply to the targets.
    """
    from modeldoc import diff as differ
    from modeldoc.pages import diff as shown

    output = _output(quiet, verbose)
    with progress.reporting(output.reporter()):
        old_spec, new_spec = _describe_all((_side(old, flags), _side(new, flags)), output)
    result = differ.diff(old_spec, new_spec, old_name=old, new_name=new)
    progress.clear()
    if output_format == "json":
        click.echo(_json_terminal_safe(json.dumps(result.to_json(), indent=1, ensure_ascii=False)))
    elif output_format == "markdown":
        for line in shown.markdown(result).splitlines():
            click.echo(terminal_safe(line))
    else:
        for line in shown.terminal_lines(result):
            click.echo(terminal_safe(line))


@main.command()
@click.argument("description")
@click.argument("target")
@_describe_flags
@_output_flags
@_fail_cleanly
def check(description: str, target: str, quiet: bool, verbose: bool, **flags: Any) -> None:
    """Exit 1, printing what changed, when TARGET no longer matches the saved DESCRIPTION (NAME.json); 0 when it does.

    Matching means the same layers, arguments, shapes and parameter counts (teaching text,
    warnings and costs are left out). Without input flags, TARGET is probed with the inputs the
    description records. For a project's CI: modeldoc inspect TARGET ... --json > NAME.json once,
    then modeldoc check NAME.json TARGET on every change.
    """
    from modeldoc import diff as differ
    from modeldoc.pages import diff as shown
    from modeldoc.spec import read_description

    if not is_description_file(description):
        raise ConfigError(
            f"{description} is not a saved description (NAME.json)",
            "write one with modeldoc inspect TARGET ... --json > NAME.json",
        )
    output = _output(quiet, verbose)
    saved = read_description(Path(description))
    ctx = click.get_current_context()
    given = any(
        ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        for name in ("input_shapes", "input_dtypes", "example")
    )
    if is_description_file(target) or is_checkpoint_file(target) or given:
        options = _side(target, flags)
    else:
        options = replace(_entry(target, **flags), inputs=_recorded_inputs(saved, description))
    with progress.reporting(output.reporter()):
        (current,) = _describe_all((options,), output)
    result = differ.diff(saved, current, old_name=description, new_name=target)
    progress.clear()
    if result.matches:
        output.say(f"{target} matches {description}")
        return
    for line in shown.terminal_lines(result):
        click.echo(terminal_safe(line))
    raise ModeldocError(
        f"{target} no longer matches {description} ({shown.headline(result)}); if the change is intended, "
        f"write the description anew: modeldoc inspect {target} ... --json > {description}"
    )


def _recorded_inputs(spec: ModelSpec, where: str) -> tuple[Any, ...]:
    """The example inputs a saved description was probed with, to probe the model the same way."""
    from modeldoc.options import make_input

    inputs = []
    for item in spec.inputs:
        dims = item.dims if len(item.dims) == len(item.shape) else item.shape
        axes = [f"{d}={s}" if isinstance(d, str) else s for s, d in zip(item.shape, dims, strict=True)]
        keyword = item.name if item.name.isidentifier() else ""
        inputs.append(make_input(axes, dtype=item.dtype, keyword=keyword, where=f"{where}, input {item.name}"))
    return tuple(inputs)
