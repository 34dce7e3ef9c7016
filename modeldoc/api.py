"""The Python API: describe a model from a notebook or a script.

>>> import modeldoc
>>> doc = modeldoc.describe("modeldoc.examples.fashion:Network", input_shape=(1, 1, 28, 28))
>>> doc.spec.total_params
32998

`describe` takes a live ``nn.Module`` or a target (``"pkg.models:Net"``, ``"path/file.py:Net"``)
and returns a `Description`: the `ModelSpec` as data, the ``modeldoc/1`` JSON, a site or
Markdown pages built from it, a terminal table (``print(doc)``) and a rich display in Jupyter.
Importing this module imports no torch; `describe` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modeldoc.errors import ConfigError
from modeldoc.options import DEFAULT_DEPTH, DEFAULT_PAGE_SIZE, SECTIONS, ModelOptions, SiteOptions, model_options
from modeldoc.spec import ModelSpec, is_description_file

if TYPE_CHECKING:
    from modeldoc.probe.loader import Module

Shape = Sequence[int | str] | str
"""``(1, 1, 28, 28)``, ``[1, "L=16"]`` or ``"1,L=16"`` (``"NAME:1,16"`` for a keyword input)."""


@dataclass(frozen=True)
class Description:
    """A described model: its `ModelSpec` and the options it was described with."""

    spec: ModelSpec
    options: ModelOptions

    def to_json(self) -> dict[str, Any]:
        """The ``modeldoc/1`` description (what ``modeldoc inspect --json`` prints)."""
        return self.spec.to_json()

    def build_site(
        self,
        out: str | Path = "site",
        *,
        site_name: str = "Model documentation",
        diagrams: bool = True,
        templates: str | Path | None = None,
    ) -> Path:
        """Build a complete mkdocs-material site into `out`; returns its absolute path.

        The same rules as ``modeldoc build``: `out` is replaced only when modeldoc wrote it (or
        it is empty), and a failed build leaves it as it was.
        """
        from modeldoc.site import build as site

        options = self._site(out, site_name, diagrams, templates)
        return site.build_site(options, (self.spec,)).out

    def write_markdown(
        self, docs_dir: str | Path, *, diagrams: bool = True, templates: str | Path | None = None
    ) -> Path:
        """Write plain Markdown pages with inline SVG into `docs_dir` (``--markdown-only``); returns its path."""
        from modeldoc.site import build as site

        options = self._site(docs_dir, "", diagrams, templates)
        return site.write_markdown(options, (self.spec,), options.out)[0].out

    def summary(self, depth: int | None = None) -> str:
        """The table ``modeldoc inspect`` prints: layers, arguments with their kinds, totals."""
        from modeldoc.pages.summary import summary_lines

        return "\n".join(summary_lines(self.spec, depth=depth))

    def _site(self, out: str | Path, site_name: str, diagrams: bool, templates: str | Path | None) -> SiteOptions:
        if diagrams:
            from modeldoc.diagrams.svg import require_dot

            require_dot()
        folder = Path(templates) if templates is not None else None
        if folder is not None and not folder.is_dir():
            raise ConfigError(f"templates {str(folder)!r} is not a folder", "give a folder of template overrides")
        return SiteOptions(
            models=(self.options,),
            out=Path(out),
            site_name=site_name or SiteOptions.site_name,
            custom_templates=folder,
            diagrams=diagrams,
        )

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        spec = self.spec
        return f"<modeldoc.Description of {spec.type}: {spec.total_params:,} parameters, {len(spec.layers):,} modules>"

    def _repr_html_(self) -> str:
        from modeldoc.pages.notebook import model_html

        return model_html(self.spec, depth=self.options.depth)


def describe(
    model: Module | str,
    input_shape: Shape | None = None,
    *,
    input_shapes: Sequence[Shape] = (),
    input_dtype: str | Sequence[str] = "float32",
    example_inputs: Any = None,
    kwargs: Mapping[str, Any] | None = None,
    probe_device: str = "meta",
    title: str = "",
    depth: int = DEFAULT_DEPTH,
    sections: Sequence[str] = SECTIONS,
    page_size: int = DEFAULT_PAGE_SIZE,
    show_weights: bool = False,
    weights: str = "",
    probe_memory: int | str | None = None,
) -> Description:
    """Describe `model`: a live ``nn.Module``, or a target such as ``"pkg.models:Net"``.

    Args:
        model: The module itself (it leaves exactly as it came), or a target that names an
            ``nn.Module`` subclass, a function returning one, or a module instance; or the path
            of a saved description (``"fashion.json"``), read back without torch.
        input_shape: One example input's shape; name symbolic axes as ``"L=16"``.
        input_shapes: Several positional inputs' shapes.
        input_dtype: ``"float32"`` (default), ``"long"`` for token ids, ...; one for all inputs or one each.
        example_inputs: Real example inputs instead of shapes: a tensor, a tuple of positional
            inputs, a dict of keyword inputs, or ``(args, kwargs)``.
        kwargs: Constructor arguments, for a target.
        probe_device: ``"meta"`` (no memory, no compute; falls back to the CPU when needed) or ``"cpu"``.
        title: The title of the model's page (default: the class name).
        depth: Levels of the module tree drawn in one diagram.
        sections: Which sections the pages have (overview, diagram, dataflow, layers).
        page_size: A subtree with more modules than this gets a page of its own.
        show_weights: Add each tensor's statistics, histogram and pictures (a model with real values).
        weights: A checkpoint (``.safetensors``, ``.pt``) loaded strictly into the model built from
            a target; a live module is yours, so load it yourself and pass ``show_weights=True``.
        probe_memory: The memory a materialised copy of a meta model may take for a real pass:
            bytes, or ``"8GiB"``; ``0`` never materialises (default: min(4 GiB, half the free memory)).

    Returns:
        The description: ``.spec``, ``.to_json()``, ``.build_site()``, ``.write_markdown()``.

    Raises:
        modeldoc.errors.ModeldocError: The model cannot be loaded, or an option is malformed
            (`ConfigError`); the message says how to fix it.

    """
    live = not isinstance(model, str)
    if live and kwargs:
        raise ConfigError("kwargs build a model from a target", "pass the built module alone, or a target with kwargs")
    if example_inputs is not None and (input_shape is not None or input_shapes):
        raise ConfigError("give example_inputs or input shapes, not both", "keep one of them")
    entry: dict[str, Any] = {
        "target": model if isinstance(model, str) else _target_of(model),
        "kwargs": dict(kwargs or {}),
        "input_shapes": [
            _shape_text(s) for s in ([input_shape] if input_shape is not None else []) + list(input_shapes)
        ],
        "input_dtype": input_dtype if isinstance(input_dtype, str) else list(input_dtype),
        "probe_device": probe_device,
        "title": title,
        "depth": depth,
        "sections": list(sections),
        "page_size": page_size,
        "show_weights": show_weights,
        "weights": weights,
        "probe_memory": probe_memory,
    }
    saved = isinstance(model, str) and is_description_file(model)
    if saved:
        if example_inputs is not None:
            raise ConfigError(
                f"example_inputs do not apply to the saved description {model}, which holds what the probe found",
                "leave them out",
            )
        if entry["input_dtype"] == "float32":
            del entry["input_dtype"]  # the default is no request to refuse
    options = model_options(entry, where="modeldoc.describe()")  # checked before torch is imported
    if saved:
        from modeldoc import pipeline

        return Description(spec=pipeline.describe(options), options=options)
    from modeldoc.probe import loader  # imports torch: here, so that importing modeldoc does not

    if example_inputs is None:
        return Description(spec=_collect(model, options), options=options)
    inputs = example_inputs
    with loader.lend(lambda: inputs, "example_inputs") as factory:
        spec = _collect(model, replace(options, example=factory))
    return Description(spec=spec, options=options)


def _collect(model: Module | str, options: ModelOptions) -> ModelSpec:
    from modeldoc import pipeline

    return pipeline.describe(options) if isinstance(model, str) else pipeline.describe_module(model, options)


def _target_of(model: Any) -> str:
    """What names a live module's class, ``module:QualName``: the spec's target and the default title."""
    from modeldoc.probe import loader, names  # imports torch: here, so that importing modeldoc does not

    if not loader.is_module(model):
        raise ConfigError(
            f"modeldoc.describe() got a {type(model).__name__}, not an nn.Module",
            "pass a torch.nn.Module, or a target such as 'pkg.models:Net'",
        )
    return names.target_name(type(model))


def _shape_text(shape: Any) -> Any:
    """A shape as `model_options` reads it: strings as they are, sequences as lists."""
    if isinstance(shape, str):
        return shape
    if isinstance(shape, Sequence):
        return list(shape)
    raise ConfigError(f"input shape {shape!r} is not a sequence of sizes", "write it as (1, 1, 28, 28) or '1,L=16'")
