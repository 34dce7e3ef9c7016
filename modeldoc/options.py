"""The one options object, validated once, shared by the CLI, pyproject and the MkDocs plugin.

Every source (CLI flags, ``[tool.modeldoc]``, the plugin's ``models:`` entries and ``:::``
blocks) is turned into plain mappings and validated by :func:`model_options` and
:func:`site_options`; defaults live here and nowhere else.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from modeldoc.errors import ConfigError
from modeldoc.spec import (
    CHECKPOINT_SUFFIXES,
    DESCRIPTION_SUFFIX,
    is_checkpoint_file,
    is_config_file,
    is_description_file,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # the backport, a dependency on Python 3.10 only
    import tomli as tomllib

DTYPES = ("float32", "float64", "float16", "bfloat16", "long", "int64", "int32", "bool")
PROBE_DEVICES = ("meta", "cpu")
SECTIONS = ("overview", "diagram", "dataflow", "layers")
DEFAULT_DEPTH = 2
DEFAULT_PAGE_SIZE = 40
DEFAULT_PROBE_TIMEOUT = 60.0
MAX_INPUT_ELEMENTS = 10**10
"""Elements one example input may have. The meta probe needs no memory, but the real CPU
fallback would, and shapes are what a page documents: a batch of 1 shows the same model."""
_INT64_MAX = 2**63 - 1
_AXIS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, kw_only=True)
class InputOption:
    """One example input: its shape, dtype, symbolic axis names and keyword name."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    axis_names: tuple[str, ...] = ()
    """One name per axis; ``""`` for a fixed axis. Named axes are probed at two sizes."""
    keyword: str = ""
    """Passed as ``forward(**{keyword: tensor})`` when set, positionally otherwise."""

    def axes(self) -> list[int | str]:
        """The axes as a user writes them: ``[1, "L=16"]`` (the inverse of `make_input`)."""
        return [f"{n}={s}" if n else s for s, n in zip(self.shape, self.axis_names, strict=True)]


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """What to document about one model."""

    target: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[InputOption, ...] = ()
    example: str = ""
    """A target returning example inputs (``args`` or ``(args, kwargs)``), instead of `inputs`."""
    example_chosen: str = ""
    """Set when modeldoc chose `inputs` itself (from a Hugging Face config): the sentence saying so and from what."""
    probe_device: str = "meta"
    title: str = ""
    slug: str = ""
    depth: int = DEFAULT_DEPTH
    """Levels of the module tree drawn in one diagram."""
    sections: tuple[str, ...] = SECTIONS
    page_size: int = DEFAULT_PAGE_SIZE
    """A subtree with more modules than this gets a page of its own."""
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT
    """Seconds all passes of the shape probe may spend in the model's forward; 0 for no limit."""
    probe_memory: int | None = None
    """Bytes a materialised copy of a meta model's weights may take for a real pass; None for the
    default (the smaller of 4 GiB and half the memory available), 0 to never materialise."""
    knowledge: tuple[Path, ...] = ()
    """Folders of knowledge entries read after the shipped ones (absolute; see `knowledge_folders`).
    Set for a whole project (``knowledge`` in ``[tool.modeldoc]`` or the plugin, ``--knowledge``)."""
    weights: str = ""
    """A checkpoint file whose tensors are loaded into the model built from the target (``--weights``)."""
    show_weights: bool = False
    """Read every tensor's values: statistics, histograms and pictures (on with `weights`)."""

    @property
    def has_input(self) -> bool:
        """True when the options say how to build an example input."""
        return bool(self.inputs or self.example)


@dataclass(frozen=True, kw_only=True)
class SiteOptions:
    """Where and how a standalone site is written."""

    models: tuple[ModelOptions, ...]
    out: Path = Path("site")
    site_name: str = "Model documentation"
    custom_templates: Path | None = None
    diagrams: bool = True
    mkdocs_config: Path | None = None
    """The project's mkdocs.yml, built instead of a generated one (config mode)."""

    def __post_init__(self) -> None:
        # Resolved once, here: MkDocs reads docs_dir relative to its config file and the build
        # runs in a staging folder, so a relative path would mean something else downstream.
        object.__setattr__(self, "out", absolute(self.out))
        for name in ("custom_templates", "mkdocs_config"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, absolute(value))


def absolute(path: str | os.PathLike[str]) -> Path:
    """`path` made absolute against the working directory, ``..`` folded, symlinks kept.

    Symlinks are not followed so that a check of the final name (is it a symlink?) still sees it.
    """
    return Path(os.path.abspath(path))  # noqa: PTH100 - Path.resolve() would follow symlinks


def parse_shape(text: str) -> InputOption:
    """Parse ``"1,1,28,28"``, ``"N=8,3,32,32"`` or ``"input_ids:1,L=16"`` into an input.

    Axis 0 is the batch and is named ``N`` unless it is named otherwise or another axis is ``N``.
    """
    raw = str(text).strip()
    keyword = ""
    if ":" in raw:
        keyword, raw = (part.strip() for part in raw.split(":", 1))
        if not keyword.isidentifier():
            raise ConfigError(
                f"input name {keyword!r} in {text!r} is not a Python identifier",
                "write NAME:SHAPE, e.g. input_ids:1,16",
            )
    return make_input(raw.split(","), keyword=keyword, where=f"--input-shape {text!r}")


def make_input(
    axes: Iterable[Any], *, dtype: str = "float32", keyword: str = "", where: str = "input shape"
) -> InputOption:
    """Build an input from axis entries, each an int or ``"NAME=int"``."""
    if isinstance(axes, str):
        axes = axes.split(",")
    elif not isinstance(axes, list | tuple):
        raise ConfigError(
            f"{where} has shape {axes!r}, which is not a list of sizes", "write it as [1, 1, 28, 28] or '1,1,28,28'"
        )
    shape: list[int] = []
    names: list[str] = []
    for axis in axes:
        name, size = _parse_axis(axis, where)
        shape.append(size)
        names.append(name)
    if not shape:
        raise ConfigError(f"{where} is empty", "give the sizes separated by commas, e.g. 1,1,28,28")
    elements = math.prod(shape)
    if elements > MAX_INPUT_ELEMENTS:
        sizes = " × ".join(str(s) for s in shape)
        raise ConfigError(
            f"{where} has {sizes} = {elements:,} elements, "
            f"more than the {MAX_INPUT_ELEMENTS:,} an example input may have",
            "use a smaller example (a batch of 1 documents the same model)",
        )
    if not names[0] and "N" not in names and len(shape) > 1:
        names[0] = "N"
    return InputOption(shape=tuple(shape), dtype=parse_dtype(dtype), axis_names=tuple(names), keyword=keyword)


def _parse_axis(axis: Any, where: str) -> tuple[str, int]:
    if isinstance(axis, bool) or not isinstance(axis, int | str):
        raise ConfigError(
            f"{where} has {axis!r}, which is not a whole number",
            "give the sizes separated by commas, e.g. 1,1,28,28 (name a symbolic axis as L=16)",
        )
    name, _, size_text = str(axis).strip().rpartition("=")
    name, size_text = name.strip(), size_text.strip()
    if name and not _AXIS_NAME.match(name):
        raise ConfigError(f"axis name {name!r} in {where} is not a plain name", "use letters, e.g. L=16")
    if size_text.isdigit() and len(size_text) > len(str(_INT64_MAX)):
        raise ConfigError(
            f"{where} has a size of {len(size_text)} digits, which does not fit a 64-bit integer",
            "use a smaller example (a batch of 1 documents the same model)",
        )
    try:
        size = int(size_text)
    except ValueError:
        raise ConfigError(
            f"{where} has {str(axis).strip()!r}, which is not a whole number",
            "give the sizes separated by commas, e.g. 1,1,28,28 (name a symbolic axis as L=16)",
        ) from None
    if size < 1:
        raise ConfigError(f"{where} has size {size}", "every size must be 1 or more")
    if size > _INT64_MAX:
        raise ConfigError(
            f"{where} has size {size}, which does not fit a 64-bit integer (at most {_INT64_MAX})",
            "use a smaller example (a batch of 1 documents the same model)",
        )
    return name, size


def parse_dtype(text: str) -> str:
    """Check a dtype name; ``"int64"`` and ``"long"`` are the same."""
    name = str(text).strip().removeprefix("torch.")
    if name not in DTYPES:
        raise ConfigError(f"unknown input dtype {text!r}", f"use one of {', '.join(DTYPES)}")
    return "long" if name == "int64" else name


def slugify(text: str) -> str:
    """A URL-safe lower-case name: ``"Fashion Network"`` becomes ``"fashion-network"``."""
    return _SLUG.sub("-", text.lower()).strip("-") or "model"


_MODEL_KEYS = {
    "target",
    "kwargs",
    "input_shape",
    "input_shapes",
    "input_dtype",
    "inputs",
    "example",
    "probe_device",
    "title",
    "slug",
    "depth",
    "sections",
    "page_size",
    "probe_timeout",
    "weights",
    "show_weights",
    "probe_memory",
}

_PROBE_KEYS = ("kwargs", "input_shape", "input_shapes", "input_dtype", "inputs", "example")
_PROBE_DEFAULTS = {"probe_device": "meta", "probe_timeout": DEFAULT_PROBE_TIMEOUT, "probe_memory": None}
"""Keys that say how to build and probe a model, which a saved description no longer needs
(those with a default only when they ask for something else)."""


def model_options(entry: Mapping[str, Any], *, where: str = "model entry") -> ModelOptions:
    """Validate one model entry from any source (CLI, pyproject, plugin, ``:::`` block).

    Keys: ``target`` (required), ``kwargs``, ``input_shape`` (one shape) or ``input_shapes``
    (a list), ``input_dtype`` (one dtype, or one per input), ``inputs`` (a list of
    ``{shape, dtype, name}``), ``example``, ``probe_device``, ``title``, ``slug``, ``depth``,
    ``sections``, ``page_size``, ``probe_timeout``, ``probe_memory``, ``weights`` (a checkpoint loaded
    into the model), ``show_weights``. A target ending in ``.json`` is a saved description, and one ending in
    ``.safetensors``, ``.pt`` (`CHECKPOINT_SUFFIXES`) a checkpoint file: they take none of the keys
    that say how to build or probe a model.
    """
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} is not a mapping", "write it as key: value pairs with at least target")
    unknown = sorted(str(key) for key in set(entry) - _MODEL_KEYS)
    if unknown:
        raise ConfigError(f"{where} has unknown option {unknown[0]!r}", f"use only {', '.join(sorted(_MODEL_KEYS))}")
    target = entry.get("target")
    saved = isinstance(target, str) and is_description_file(target)
    checkpoint = isinstance(target, str) and is_checkpoint_file(target)
    config = isinstance(target, str) and not checkpoint and is_config_target(target)
    if not isinstance(target, str) or (":" not in target and not saved and not checkpoint and not config):
        raise ConfigError(
            f"target {target!r} in {where} is not of the form module:Name",
            "give it as package.module:Name or path/to/file.py:Name",
        )
    who = target if where == "the command line" else f"{target} in {where}"
    probed = [key for key in _PROBE_KEYS if entry.get(key)]
    probed += [key for key, default in _PROBE_DEFAULTS.items() if entry.get(key, default) != default]
    if saved and probed:
        raise ConfigError(
            f"{probed[0]} of {who} does not apply to a saved description, which holds what the probe found",
            "leave it out, or describe the model again: modeldoc inspect TARGET --input-shape ... --json > NAME.json",
        )
    if checkpoint and probed:
        raise ConfigError(
            f"{probed[0]} of {who} does not apply to a checkpoint, which is described from its tensors without code",
            "leave it out, or document the model's code with the checkpoint as --weights",
        )
    weights = _weights(entry, who, described=saved or checkpoint)
    kwargs = entry.get("kwargs") or {}
    if not isinstance(kwargs, Mapping) or not all(isinstance(key, str) for key in kwargs):
        raise ConfigError(f"kwargs of {who} is not a mapping of names to values", 'write it as {"width": 64}')
    inputs = _inputs(entry, where=f"{where} ({target})")
    probe_device = str(entry.get("probe_device", "meta"))
    if probe_device not in PROBE_DEVICES:
        raise ConfigError(f"probe_device {probe_device!r} of {who}", "use meta or cpu")
    sections = _strings(entry.get("sections") or list(SECTIONS), "sections", who)
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        raise ConfigError(f"unknown section {bad[0]!r} for {who}", f"use {', '.join(SECTIONS)}")
    # a saved description brings its own title, a model built from a config is named by what was built
    default_title = "" if saved or config else Path(target).name if checkpoint else target.rsplit(":", 1)[-1]
    title = _text(entry.get("title"), "title", who) or default_title
    example = _text(entry.get("example"), "example", who)
    if example and ":" not in example:
        raise ConfigError(
            f"example {example!r} of {who} is not of the form module:function",
            "name a function that returns the example inputs, e.g. pkg.models:make_inputs",
        )
    return ModelOptions(
        target=target,
        kwargs=dict(kwargs),
        inputs=inputs,
        example=example,
        probe_device=probe_device,
        title=title,
        slug=slugify(_text(entry.get("slug"), "slug", who) or title or _default_slug(target)),
        depth=_positive_int(entry.get("depth", DEFAULT_DEPTH), "depth", who),
        sections=tuple(sections),
        page_size=_positive_int(entry.get("page_size", DEFAULT_PAGE_SIZE), "page_size", who),
        probe_timeout=_seconds(entry.get("probe_timeout", DEFAULT_PROBE_TIMEOUT), "probe_timeout", who),
        weights=weights,
        show_weights=_flag(entry.get("show_weights", False), "show_weights", who) or bool(weights),
        probe_memory=parse_memory(entry.get("probe_memory"), who),
    )


def is_config_target(target: str) -> bool:
    """True for a target that names a Hugging Face config, whose model is named once it is built.

    ``config.json``, ``config.json:AutoModelForCausalLM``, or a config class as the libraries name
    them (``transformers:LlamaConfig``).
    """
    location, _, name = target.rpartition(":")
    if is_config_file(target) or location.endswith(DESCRIPTION_SUFFIX):
        return True
    return bool(location) and name.endswith("Config")


def _default_slug(target: str) -> str:
    """``llamaconfig`` for ``transformers:LlamaConfig``, ``tiny-llama-config`` for ``tiny-llama/config.json``."""
    location, _, name = target.rpartition(":")
    if location and not location.endswith(DESCRIPTION_SUFFIX):
        return name
    path = Path(location or target)
    return f"{path.parent.name}-{path.stem}" if path.stem == "config" and path.parent.name else path.stem


def _weights(entry: Mapping[str, Any], who: str, *, described: bool) -> str:
    """The ``weights`` file of an entry: a checkpoint's name, for a model built from code."""
    value = _text(entry.get("weights"), "weights", who)
    if not value:
        return ""
    if described:
        raise ConfigError(
            f"weights of {who} apply to a model built from its code, not to a saved description or a checkpoint",
            "leave weights out, or give the model's target (package.module:Name)",
        )
    if not is_checkpoint_file(value):
        raise ConfigError(
            f"weights {value!r} of {who} is not a checkpoint file",
            f"give a file ending in {', '.join(CHECKPOINT_SUFFIXES)}",
        )
    return value


def _flag(value: Any, key: str, target: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} of {target} is {value!r}", f"write {key} as true or false")
    return value


_UNITS = {"": 1024**3, "b": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
_UNITS |= {"t": 1024**4, "tib": 1024**4, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")


def parse_memory(value: Any, target: str = "the command line") -> int | None:
    """A memory size in bytes: ``"8GiB"``, ``"512 MiB"``, ``"2G"``, a number of GiB (``4``, ``0.5``).

    None stays None.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"probe_memory of {target} is {value!r}", 'give a size such as "8GiB" or "512MiB" (0: never)')
    match = _MEMORY.match(str(value))
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ConfigError(f"probe_memory of {target} is {value!r}", 'give a size such as "8GiB" or "512MiB" (0: never)')
    number = float(match.group(1))
    if not math.isfinite(number * unit) or number * unit > _INT64_MAX:
        raise ConfigError(f"probe_memory of {target} is {value!r}, more than any machine has", "give a smaller size")
    return int(number * unit)


def _seconds(value: Any, key: str, target: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise ConfigError(f"{key} of {target} is {value!r}", f"give {key} in seconds, 0 or more (0: no limit)")
    return float(value)


def _positive_int(value: Any, key: str, target: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} of {target} is {value!r}", f"give {key} as a whole number of 1 or more")
    return value


def _text(value: Any, key: str, target: str) -> str:
    """An optional text option: ``""`` when left out; numbers are taken as written."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{key} of {target} is {value!r}, not text", f"write {key} as a string")
    return str(value)


def _strings(value: Any, key: str, target: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} of {target} is {value!r}, not a list of names", f"write {key} as a list, e.g. [a, b]")
    return list(value)


def _inputs(entry: Mapping[str, Any], *, where: str) -> tuple[InputOption, ...]:
    dtype_entry = entry.get("input_dtype", "float32")
    dtypes = list(dtype_entry) if isinstance(dtype_entry, list | tuple) else [dtype_entry]
    shapes: list[Any] = []
    if "input_shape" in entry:
        shapes.append(entry["input_shape"])
    listed = entry.get("input_shapes") or []
    if not isinstance(listed, list | tuple):
        raise ConfigError(
            f"{where} has input_shapes {listed!r}, which is not a list of shapes",
            "write it as [[1, 3, 32, 32], [1, 10]], or use input_shape for one input",
        )
    shapes.extend(listed)
    if len(dtypes) not in (1, len(shapes)) and shapes:
        raise ConfigError(
            f"{where} has {len(dtypes)} input dtypes for {len(shapes)} inputs",
            "give one dtype for all inputs or one per input",
        )
    inputs = []
    for i, shape in enumerate(shapes):
        dtype = dtypes[i] if len(dtypes) > 1 else dtypes[0]
        if isinstance(shape, str):
            parsed = parse_shape(shape)
            inputs.append(make_input(parsed.axes(), dtype=dtype, keyword=parsed.keyword, where=where))
        elif isinstance(shape, list | tuple):
            inputs.append(make_input(shape, dtype=dtype, where=where))
        else:
            raise ConfigError(f"{where} has input shape {shape!r}", "write it as [1, 1, 28, 28] or '1,1,28,28'")
    items = entry.get("inputs") or []
    if not isinstance(items, list | tuple):
        raise ConfigError(
            f"{where} has inputs {items!r}, which is not a list", "write inputs as a list of {shape: [...], dtype: ...}"
        )
    for item in items:
        if not isinstance(item, Mapping) or "shape" not in item:
            raise ConfigError(
                f"{where} has input {item!r}", "write each input as {shape: [...], dtype: ..., name: ...}"
            )
        keyword = _text(item.get("name"), "the name of an input", where)
        if keyword and not keyword.isidentifier():
            raise ConfigError(
                f"input name {keyword!r} in {where} is not a Python identifier", "name it as forward() does"
            )
        shape = item["shape"]
        if isinstance(shape, str):
            shape = parse_shape(shape).axes()
        inputs.append(
            make_input(
                shape,
                dtype=item.get("dtype", "float32"),
                keyword=keyword,
                where=f"{where}, input {keyword or len(inputs)}",
            )
        )
    return tuple(inputs)


def knowledge_folders(value: Any, *, where: str, base: Path) -> tuple[Path, ...]:
    """The folders of knowledge entries an option names, made absolute against `base`.

    `value` is a folder or a list of folders (``None`` for none). A name that is not a folder
    but the dotted name of an installed package (``mypkg.knowledge``) means that package's folder.
    """
    if value is None:
        return ()
    items = [value] if isinstance(value, str | os.PathLike) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str | os.PathLike) for item in items):
        raise ConfigError(
            f"knowledge in {where} is {value!r}", 'give a folder or a list of folders of YAML files, e.g. "knowledge"'
        )
    folders = []
    for item in items:
        path = base / item
        if path.is_dir():
            folders.append(absolute(path))
            continue
        package = package_folder(str(item))
        if package is None:
            raise ConfigError(
                f"knowledge folder {str(item)!r} in {where} is not a folder (nor an installed package)",
                "create it or fix the path",
            )
        folders.append(package)
    return tuple(folders)


def package_folder(name: str) -> Path | None:
    """The folder of the installed package `name` (``mypkg.knowledge``), or None when there is none."""
    if not _DOTTED.match(name):
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def site_options(table: Mapping[str, Any], *, where: str, base: Path) -> SiteOptions:
    """Validate a ``[tool.modeldoc]`` table; relative paths are resolved against `base`."""
    models_entry = table.get("models") or []
    if not isinstance(models_entry, list):
        raise ConfigError(f"models in {where} is not a list", "write [[tool.modeldoc.models]] tables")
    knowledge = knowledge_folders(table.get("knowledge"), where=where, base=base)
    models = tuple(
        replace(model_options(m, where=f"models[{i}] in {where}"), knowledge=knowledge)
        for i, m in enumerate(models_entry)
    )
    templates = table.get("custom_templates")
    if templates and not (base / str(templates)).is_dir():
        raise ConfigError(
            f"custom_templates {str(templates)!r} in {where} is not a folder", "create it or fix the path"
        )
    mkdocs_config = table.get("mkdocs_config")
    return SiteOptions(
        models=unique_slugs(models),
        out=base / str(table.get("out", "site")),
        site_name=str(table.get("site_name", SiteOptions.site_name)),
        custom_templates=(base / str(templates)) if templates else None,
        mkdocs_config=(base / str(mkdocs_config)) if mkdocs_config else None,
    )


def unique_slugs(models: Iterable[ModelOptions]) -> tuple[ModelOptions, ...]:
    """Check that no two models share a page slug."""
    seen: set[str] = set()
    out = []
    for model in models:
        if model.slug in seen:
            raise ConfigError(f"two models have the page name {model.slug!r}", "give one of them a distinct slug")
        seen.add(model.slug)
        out.append(model)
    return tuple(out)


def read_pyproject(path: Path) -> Mapping[str, Any] | None:
    """The ``[tool.modeldoc]`` table of a pyproject.toml, or None when there is none."""
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML ({err})", "fix the file's syntax") from err
    table = data.get("tool", {}).get("modeldoc")
    return table if isinstance(table, Mapping) else None
