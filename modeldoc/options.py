"""The one options object, validated once, shared by the CLI, pyproject and the MkDocs plugin.

Every source (CLI flags, ``[tool.modeldoc]``, the plugin's ``models:`` entries and ``:::``
blocks) is turned into plain mappings and validated by :func:`model_options` and
:func:`site_options`; defaults live here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from modeldoc.errors import ConfigError

DTYPES = ("float32", "float64", "float16", "bfloat16", "long", "int64", "int32", "bool")
PROBE_DEVICES = ("meta", "cpu")
SECTIONS = ("overview", "diagram", "dataflow", "layers")
DEFAULT_DEPTH = 2
DEFAULT_PAGE_SIZE = 40
DEFAULT_PROBE_TIMEOUT = 60.0
_AXIS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
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
    shape: list[int] = []
    names: list[str] = []
    for axis in axes:
        name, size = _parse_axis(axis, where)
        shape.append(size)
        names.append(name)
    if not shape:
        raise ConfigError(f"{where} is empty", "give the sizes separated by commas, e.g. 1,1,28,28")
    if not names[0] and "N" not in names and len(shape) > 1:
        names[0] = "N"
    return InputOption(shape=tuple(shape), dtype=parse_dtype(dtype), axis_names=tuple(names), keyword=keyword)


def _parse_axis(axis: Any, where: str) -> tuple[str, int]:
    name, _, size_text = str(axis).strip().rpartition("=")
    name = name.strip()
    if name and not _AXIS_NAME.match(name):
        raise ConfigError(f"axis name {name!r} in {where} is not a plain name", "use letters, e.g. L=16")
    try:
        size = int(size_text)
    except ValueError:
        raise ConfigError(
            f"{where} has {str(axis).strip()!r}, which is not a whole number",
            "give the sizes separated by commas, e.g. 1,1,28,28 (name a symbolic axis as L=16)",
        ) from None
    if size < 1:
        raise ConfigError(f"{where} has size {size}", "every size must be 1 or more")
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
}


def model_options(entry: Mapping[str, Any], *, where: str = "model entry") -> ModelOptions:
    """Validate one model entry from any source (CLI, pyproject, plugin, ``:::`` block).

    Keys: ``target`` (required), ``kwargs``, ``input_shape`` (one shape) or ``input_shapes``
    (a list), ``input_dtype`` (one dtype, or one per input), ``inputs`` (a list of
    ``{shape, dtype, name}``), ``example``, ``probe_device``, ``title``, ``slug``, ``depth``,
    ``sections``, ``page_size``, ``probe_timeout``.
    """
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} is not a mapping", "write it as key: value pairs with at least target")
    unknown = sorted(set(entry) - _MODEL_KEYS)
    if unknown:
        raise ConfigError(f"{where} has unknown option {unknown[0]!r}", f"use only {', '.join(sorted(_MODEL_KEYS))}")
    target = entry.get("target")
    if not isinstance(target, str) or ":" not in target:
        raise ConfigError(
            f"target {target!r} in {where} is not of the form module:Name",
            "give it as package.module:Name or path/to/file.py:Name",
        )
    kwargs = entry.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"kwargs of {target} is not a mapping", 'write it as {"width": 64}')
    inputs = _inputs(entry, where=f"{where} ({target})")
    probe_device = str(entry.get("probe_device", "meta"))
    if probe_device not in PROBE_DEVICES:
        raise ConfigError(f"probe_device {probe_device!r} of {target}", "use meta or cpu")
    sections = tuple(entry.get("sections") or SECTIONS)
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        raise ConfigError(f"unknown section {bad[0]!r} for {target}", f"use {', '.join(SECTIONS)}")
    title = str(entry.get("title") or target.rsplit(":", 1)[-1])
    return ModelOptions(
        target=target,
        kwargs=dict(kwargs),
        inputs=inputs,
        example=str(entry.get("example") or ""),
        probe_device=probe_device,
        title=title,
        slug=slugify(str(entry.get("slug") or title)),
        depth=_positive_int(entry.get("depth", DEFAULT_DEPTH), "depth", target),
        sections=sections,
        page_size=_positive_int(entry.get("page_size", DEFAULT_PAGE_SIZE), "page_size", target),
        probe_timeout=_seconds(entry.get("probe_timeout", DEFAULT_PROBE_TIMEOUT), "probe_timeout", target),
    )


def _seconds(value: Any, key: str, target: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise ConfigError(f"{key} of {target} is {value!r}", f"give {key} in seconds, 0 or more (0: no limit)")
    return float(value)


def _positive_int(value: Any, key: str, target: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} of {target} is {value!r}", f"give {key} as a whole number of 1 or more")
    return value


def _inputs(entry: Mapping[str, Any], *, where: str) -> tuple[InputOption, ...]:
    dtype_entry = entry.get("input_dtype", "float32")
    dtypes = list(dtype_entry) if isinstance(dtype_entry, list | tuple) else [dtype_entry]
    shapes: list[Any] = []
    if "input_shape" in entry:
        shapes.append(entry["input_shape"])
    shapes.extend(entry.get("input_shapes") or [])
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
    for item in entry.get("inputs") or []:
        if not isinstance(item, Mapping) or "shape" not in item:
            raise ConfigError(
                f"{where} has input {item!r}", "write each input as {shape: [...], dtype: ..., name: ...}"
            )
        inputs.append(
            make_input(
                item["shape"], dtype=item.get("dtype", "float32"), keyword=str(item.get("name") or ""), where=where
            )
        )
    return tuple(inputs)


def site_options(table: Mapping[str, Any], *, where: str, base: Path) -> SiteOptions:
    """Validate a ``[tool.modeldoc]`` table; relative paths are resolved against `base`."""
    models_entry = table.get("models") or []
    if not isinstance(models_entry, list):
        raise ConfigError(f"models in {where} is not a list", "write [[tool.modeldoc.models]] tables")
    models = tuple(model_options(m, where=f"models[{i}] in {where}") for i, m in enumerate(models_entry))
    templates = table.get("custom_templates")
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
