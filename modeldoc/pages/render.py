"""Markdown pages from a `ModelSpec`: the Jinja environment, its filters, and the page renderer.

Templates see plain data only. Every template is autoescaped (Markdown pages carry raw HTML,
so a forgotten filter must not become a script); user text in Markdown goes through
``md_cell``, which also neutralises Markdown syntax.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined, TemplateError
from markupsafe import Markup

from modeldoc import diagrams, progress, structures
from modeldoc.errors import ModeldocError
from modeldoc.explain import docstrings
from modeldoc.options import ModelOptions
from modeldoc.pages import layout, weights
from modeldoc.spec import Dim, LayerSpec, ModelSpec

_ESCAPES = {
    # HTML
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    # Markdown syntax (as numeric entities, which Markdown leaves alone)
    "\\": "&#92;",
    "`": "&#96;",
    "*": "&#42;",
    "_": "&#95;",
    "{": "&#123;",
    "}": "&#125;",
    "[": "&#91;",
    "]": "&#93;",
    "|": "&#124;",
    "#": "&#35;",
    "~": "&#126;",
    "^": "&#94;",
    "$": "&#36;",
    "=": "&#61;",
}


_TABLE = str.maketrans(_ESCAPES)


def shipped_templates() -> Path:
    """The templates folder shipped with modeldoc (inside the wheel, or the source tree)."""
    packaged = Path(str(resources.files("modeldoc"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


def make_env(custom_templates: Path | None = None) -> Environment:
    """The Jinja environment: the user's templates first, then the shipped ones.

    Shipped templates are also reachable as ``base/<name>``, so an override can
    ``{% extends "base/layer.md.jinja" %}`` and replace a single block.
    """
    shipped = FileSystemLoader(str(shipped_templates()))
    loaders: list[Any] = [shipped, PrefixLoader({"base": shipped})]
    if custom_templates is not None:
        loaders.insert(0, FileSystemLoader(str(custom_templates)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md_cell=do_md_cell,
        code=do_code,
        shape=do_shape,
        count=do_count,
        nbytes=do_nbytes,
        value=do_value,
        text_block=do_text_block,
        snake=do_snake,
        prose=do_prose,
        docstring=do_docstring,
        doc_prose=do_doc_prose,
        number=weights.do_number,
        fraction=weights.do_fraction,
        histogram=weights.do_histogram,
    )
    return env


def do_md_cell(text: object) -> Markup:
    """Escape `text` for a Markdown table cell or heading: HTML, Markdown syntax and newlines."""
    escaped = str(text).replace("\r\n", "\n").translate(_TABLE)
    return Markup(escaped.replace("\n", "<br>"))


_CODE_SPAN = re.compile(r"&#96;(.+?)&#96;")


def do_prose(text: object) -> Markup:
    """Escape `text` like ``md_cell`` but keep its `backtick` spans as inline code.

    For sentences modeldoc writes (teaching text, derivation steps) that quote names.
    """
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", str(do_md_cell(text))))


_RST_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`([^`]+)`")
_RST_LITERAL = re.compile(r"``(.+?)``")


# Hugging Face's doc-builder: [`PreTrainedModel`] links a name; [`~PreTrainedModel.from_pretrained`] shows its last part
_HF_REFERENCE = re.compile(r"\[`(~?)([\w.]+)`\]")
_URL = r"(https?://[^\s()<>\"'`]+)"
# a link to a web page: Markdown [text](url), reST `text <url>`_, or a bare <url>
_WEB_LINK = re.compile(rf"\[(?P<md>[^\[\]\n]+)\]\({_URL}\)|`(?P<rst>[^`<]+?)\s*<{_URL}>`__?|<{_URL}>")
# Markdown emphasis in escaped text: **strong**, *em* (not the * of a product such as a * b)
_STRONG = re.compile(r"&#42;&#42;(\S(?:.*?\S)?)&#42;&#42;")
_EMPHASIS = re.compile(r"(?<![\w;])&#42;(?!\s|&#42;)(.+?)(?<!\s)&#42;(?!\w)")


_CODE = re.compile(r"(<code>.*?</code>)")


def _emphasis(text: Markup) -> Markup:
    """Escaped text with its ``**strong**`` and ``*em*`` marked, code spans left alone."""
    parts = _CODE.split(str(text))
    for i in range(0, len(parts), 2):  # the even parts are outside code spans
        parts[i] = _EMPHASIS.sub(r"<em>\1</em>", _STRONG.sub(r"<strong>\1</strong>", parts[i]))
    return Markup("".join(parts))


def do_doc_prose(text: object) -> Markup:
    """Docstring text like ``prose``: reST literals (double backticks) and roles (``:attr:`x```) become code.

    Markdown's ``*emphasis*`` and ``**strong**`` and Hugging Face's references read too:
    ``[`Name`]`` becomes code (``~`` keeps the last dotted part). A link to a web page (Markdown
    ``[text](https://...)``, reST ```text <https://...>`_``, or ``<https://...>``) becomes a link;
    any other URL stays text.
    """
    plain = _HF_REFERENCE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", str(text))
    parts, start = [], 0
    for link in _WEB_LINK.finditer(plain):
        parts.append(_doc_text(plain[start : link.start()]))
        markdown, markdown_url, rest, rest_url, bare_url = link.groups()
        label, url = (markdown, markdown_url) if markdown else (rest, rest_url) if rest else (bare_url, bare_url)
        url = url.translate(_TABLE)
        parts.append(Markup(f'<a href="{url}">{_doc_text(label)}</a>'))
        start = link.end()
    parts.append(_doc_text(plain[start:]))
    return Markup("").join(parts)


def _doc_text(text: str) -> Markup:
    """Docstring text without links: reST literals and roles as code, emphasis, the rest escaped."""
    return _emphasis(do_prose(_RST_LITERAL.sub(r"`\1`", _RST_ROLE.sub(r"`\1`", text))))


def do_docstring(text: object) -> docstrings.Docstring:
    """A docstring parsed into summary, paragraphs and sections (for ``docstring.md.jinja``)."""
    return docstrings.parse(str(text))


def do_code(text: object) -> Markup:
    """`text` as inline code that no Markdown or HTML inside it can break out of."""
    return Markup(f"<code>{do_md_cell(text)}</code>")


def do_text_block(text: object) -> Markup:
    """Free text (a docstring) as escaped paragraphs that keep their line breaks."""
    paragraphs = [p.strip() for p in str(text).strip().split("\n\n") if p.strip()]
    return Markup("\n\n".join(f'<p class="modeldoc-text">{do_md_cell(p)}</p>' for p in paragraphs))


def do_snake(name: str) -> str:
    """A class name as a variable name: ``"GPT2LMHeadModel"`` becomes ``"gpt2_lm_head_model"``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return words.lower() or "model"


def do_shape(shape: Iterable[Dim]) -> str:
    """``(1, 6, 24, 24)`` becomes ``"1 × 6 × 24 × 24"``; a scalar shape is ``"scalar"``."""
    parts = [str(d) for d in shape]
    return " × ".join(parts) if parts else "scalar"


def do_count(number: int) -> str:
    """``32998`` becomes ``"32,998"``."""
    return f"{number:,}"


def do_nbytes(number: int) -> str:
    """A byte count in binary units: ``131992`` becomes ``"128.9 KiB"``."""
    size = float(number)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def do_value(value: object) -> str:
    """A hyperparameter value as Python would write it (lists shown as tuples)."""
    if isinstance(value, list):
        inner = ", ".join(do_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


@dataclass(frozen=True, kw_only=True)
class RenderSettings:
    """How one model's pages are rendered."""

    options: ModelOptions
    diagrams: bool = True
    base: str = ""
    """Folder of the model's pages relative to the docs root (``"fashion/"``), for links."""
    directory_urls: bool = True
    single_page: bool = False
    """Render every layer on one page (used by ``:::`` blocks)."""
    heading_level: int = 1
    anchor_prefix: str = ""
    """Put before every section id and diagram id, so that two models can share one page."""


def render_pages(spec: ModelSpec, settings: RenderSettings, env: Environment) -> dict[str, str]:
    """Every page of one model as Markdown, keyed by file path relative to the model folder."""
    page_size = 10**9 if settings.single_page else settings.options.page_size
    pages = layout.plan_pages(spec, page_size)
    where = layout.page_of(pages)
    counterpart = layout.counterparts(spec, pages)
    by_root = {page.root: page for page in pages}
    out = {}
    prefix = settings.anchor_prefix

    def anchor(path: str) -> str:
        return prefix + layout.anchor(path)

    # A path inside a block documented on a shared page links to its counterpart's section,
    # which also carries the path's own anchor.
    also: dict[str, list[str]] = {}
    for path, documented in counterpart.items():
        if documented in where:
            also.setdefault(documented, []).append(path)
    where = {**where, **{path: where[documented] for path, documented in counterpart.items() if documented in where}}

    ran = _ran(spec)
    unhooked = _unhooked(spec)
    parts: dict[str, list[layout.Page]] = {}  # page key -> continuation pages of the modules on it
    for part in pages:
        if part.part > 1:
            parts.setdefault(where[part.block].root, []).append(part)
    # Without the layer sections there is nothing for a link to land on.
    linked = where if "layers" in settings.options.sections else {}

    def url(page: str, target: str, fragment: str) -> str:
        return layout.url_href(page, target, fragment, directory_urls=settings.directory_urls)

    # The DOT of every page first, then all of it drawn at once (the slow part), then the pages.
    planned: dict[str, _Dots] = {}
    for done, page in enumerate(pages, 1):
        progress.count("pages", done, len(pages))
        if settings.diagrams and page.part == 1:  # a continuation page has no diagrams of its own
            planned[page.file] = _page_dots(spec, page, settings, _linker(page, linked, anchor, url))
    drawn = _draw(planned)
    for page in pages:
        md_link = _linker(page, linked, anchor, layout.href)
        tree_svg, flows = drawn.get(page.file, ("", {}))
        below = [by_root[key] for key in page.subpages]
        continued = page.part > 1
        up = page.block if continued else page.parent
        context = {
            "spec": spec,
            "page": page,
            "layers": [spec.layer(path) for path in page.layers],
            "subpages": [(spec.layer(sub.block), md_link(sub.block), sub) for sub in below if sub.part == 1],
            "parts": [(part, layout.href(page.file, part.file)) for part in parts.get(page.root, [])],
            "parent_link": md_link(up) if up is not None else "",
            "up_title": (up or spec.title) if up is not None else "",
            "link": md_link,
            "paths": linked.keys(),
            "ran": ran,
            "unhooked": unhooked,
            "anchor": anchor,
            "options": settings.options,
            "sections": settings.options.sections,
            "heading": "#" * settings.heading_level,
            "tree_svg": tree_svg,
            "flows": flows,
            "shared": _shared_view(spec, page, md_link) if page.structure else None,
            "aliases": lambda path: [anchor(other) for other in also.get(path, ())],
        }
        context.update(
            weights.context(spec, page.file, directory_urls=settings.directory_urls, single_page=settings.single_page)
        )
        out[page.file] = render_template(env, page_template(spec), context)
    return out


def page_template(spec: ModelSpec) -> str:
    """The template of a model's pages: ``checkpoint.md.jinja`` for one described from its weights alone."""
    return "checkpoint.md.jinja" if spec.checkpoint is not None and spec.checkpoint.weights_only else "model.md.jinja"


def search_entries(spec: ModelSpec, settings: RenderSettings) -> list[dict[str, str]]:
    """Search index entries for the paths documented under another path on a shared page.

    MkDocs indexes headings only; these entries let a search for ``layers.17.attn.q_proj`` find
    the section of ``layers.0.attn.q_proj`` on "Block × 80". Locations are relative to the site
    root, with `settings.base` the model's folder.
    """
    page_size = 10**9 if settings.single_page else settings.options.page_size
    pages = layout.plan_pages(spec, page_size)
    where = layout.page_of(pages)
    entries = []
    for path, documented in layout.counterparts(spec, pages).items():
        page = where.get(documented)
        if page is None:
            continue
        layer = spec.layer(path)
        url = layout.site_url(page.file, directory_urls=settings.directory_urls)
        blocks = ", ".join(page.instances[:3]) + (" …" if len(page.instances) > 3 else "")
        text = (
            f"{path} is documented as {documented} on the page {page.title}: the blocks {blocks} share one structure."
        )
        entries.append(
            {
                "location": f"{settings.base}{url}#{settings.anchor_prefix}{layout.anchor(path)}",
                # The index holds HTML, as the search plugin writes it (it escapes the text of the pages).
                "title": html.escape(f"{path} · {layer.type_name}", quote=False),
                "text": html.escape(text, quote=False),
            }
        )
    return entries


@dataclass(frozen=True)
class DifferenceRow:
    """One thing that is not the same in every block of a shared page."""

    rel: str
    """Where it is inside each block (``"attn.q_proj"``; ``""`` for the block itself)."""
    documented: str
    """The path of that layer in the documented block, whose section the row links to."""
    what: str
    """``"argument `layer_idx`"``, ``"`weight` trainable"``, ...: Markdown with code spans."""
    values: str
    """Each value and the blocks that have it: ``"`0` in `layers.0`; `1` in `layers.1`"``."""


@dataclass(frozen=True)
class SharedView:
    """What a page shared by repeated blocks says about them (plain data for ``structure.md.jinja``)."""

    group: str
    """The structure group's id in the JSON (``"Block"``)."""
    type: str
    documented: str
    """The block whose sections the page holds."""
    count: int
    runs: list[tuple[str, str, int]]
    """The blocks as runs of numbered siblings: (first, last, how many)."""
    rows: list[DifferenceRow]
    traced: bool
    """True when the blocks were compared in a recorded forward pass too."""

    def differs(self, path: str) -> list[DifferenceRow]:
        """The rows about the documented layer at `path`."""
        return [row for row in self.rows if row.documented == path]


_WHAT = {
    "argument": "argument `{name}`",
    "kind": "kind of argument `{name}`",
    "trainable": "`{name}` trainable",
    "dtype": "dtype of `{name}`",
    "tied": "`{name}` tied with",
    "calls": "calls in the recorded forward pass",
}


def _shared_view(spec: ModelSpec, page: layout.Page, link: Callable[[str], str]) -> SharedView:
    group = next(g for g in spec.structures if g.id == page.structure)
    on_page = set(page.instances)
    found: dict[tuple[str, str, str], dict[str, Any]] = {}  # (rel, aspect, name) -> instance -> value
    usual: dict[tuple[str, str, str], Any] = {}
    for difference in group.differences:
        if difference.instance not in on_page:
            continue
        rel = structures.relative(difference.path, difference.instance)
        key = (rel, difference.aspect, difference.name)
        found.setdefault(key, {})[difference.instance] = difference.value
        usual[key] = difference.usual
    rows = []
    for (rel, aspect, name), values in found.items():
        by_value: dict[str, list[str]] = {}
        shown: dict[str, str] = {}
        for instance in page.instances:
            value = values.get(instance, usual[rel, aspect, name])
            text = _value_text(aspect, value)
            by_value.setdefault(repr(value), []).append(instance)
            shown[repr(value)] = text
        parts = [f"{shown[key]} in {_runs_text(instances)}" for key, instances in by_value.items()]
        if aspect == "argument" and _is_own_index(page.instances, values, usual[rel, aspect, name]):
            first, last = page.instances[0], page.instances[-1]
            parts = [f"the block's own index: `{_index(first)}` in `{first}` … `{_index(last)}` in `{last}`"]
        rows.append(
            DifferenceRow(
                rel=rel,
                documented=structures.inside(page.block, rel),
                what=_WHAT[aspect].format(name=name),
                values="; ".join(parts),
            )
        )
    return SharedView(
        group=group.id,
        type=group.type,
        documented=page.block,
        count=len(page.instances),
        runs=layout.instance_runs(page.instances),
        rows=rows,
        traced=spec.trace is not None,
    )


def _index(instance: str) -> str:
    return instance.rsplit(".", 1)[-1]


def _is_own_index(instances: tuple[str, ...], values: dict[str, Any], usual: Any) -> bool:
    """Whether every instance's value is its own index in the list of blocks (like ``layer_idx``)."""
    if len(instances) < 3:
        return False
    for instance in instances:
        value = values.get(instance, usual)
        if type(value) is not int or str(value) != _index(instance):
            return False
    return True


def _value_text(aspect: str, value: Any) -> str:
    """A compared value as the differences table shows it (Markdown with code spans)."""
    if aspect == "trainable":
        return "yes" if value else "no (frozen)"
    if aspect == "calls":
        return {0: "not called", 1: "called once"}.get(value, f"called {value} times")
    if aspect == "tied":
        if not value:
            return "not tied"
        names = [f"the block's `{n[3:]}`" if n.startswith("{}.") else f"`{n}`" for n in value]
        return "tied with " + ", ".join(names)
    if aspect == "argument":
        return f"`{do_value(value)}`"
    return f"`{value}`"


def _runs_text(instances: list[str]) -> str:
    """``"`layers.0` … `layers.4` (5), `layers.9`"``."""
    parts = []
    for first, last, count in layout.instance_runs(instances):
        parts.append(f"`{first}`" if count == 1 else f"`{first}` … `{last}` ({count})")
    return ", ".join(parts)


def _ran(spec: ModelSpec) -> set[str]:
    """Paths of the layers the recorded pass called, and of every layer with a called layer inside."""
    out: set[str] = set()
    for layer in spec.all_layers:
        if layer.calls:
            path: str | None = layer.path
            while path is not None and path not in out:
                out.add(path)
                path = spec.layer(path).parent
    return out


def _unhooked(spec: ModelSpec) -> set[str]:
    """Paths of TorchScript modules and of everything inside them: the probe cannot hook into them."""
    out: set[str] = set()
    for layer in spec.all_layers:  # parents come before their children
        if layer.type.startswith("torch.jit.") or (layer.parent is not None and layer.parent in out):
            out.add(layer.path)
    return out


def render_template(env: Environment, name: str, context: dict[str, Any]) -> str:
    """Render one template; a broken (user) template becomes a one-line ModeldocError."""
    try:
        return env.get_template(name).render(context)
    except TemplateError as err:
        lineno = getattr(err, "lineno", None)
        where = f" ({getattr(err, 'filename', None) or name}, line {lineno})" if lineno else ""
        raise ModeldocError(
            f"the template {name} failed{where}: {err.message}; fix the template or remove the override"
        ) from err


def _linker(
    page: layout.Page,
    where: dict[str, layout.Page],
    anchor: Callable[[str], str],
    make: Callable[[str, str, str], str],
) -> Callable[[str], str]:
    """A function from layer path to its link from `page`; ``""`` for layers not documented."""

    def link(path: str) -> str:
        target = where.get(path)
        return make(page.file, target.file, anchor(path)) if target is not None else ""

    return link


_Dots = tuple[str, dict[str, str]]
"""A page's diagrams as DOT: its module tree (or ``""``) and its data flows by block path."""
_Drawn = tuple[Markup | str, dict[str, Markup]]
"""A page's diagrams as SVG, in the same form."""


def _page_dots(spec: ModelSpec, page: layout.Page, settings: RenderSettings, link: Callable[[str], str]) -> _Dots:
    return _tree_dot(spec, page, settings, link), _flow_dots(spec, page, settings, link)


def _draw(planned: dict[str, _Dots]) -> dict[str, _Drawn]:
    """The SVG of every page's diagrams, by page file, drawn with one `render_svgs`."""
    dots = [dot for tree, flows in planned.values() for dot in (tree, *flows.values()) if dot]
    svg = dict(zip(dots, diagrams.render_svgs(dots), strict=True))
    return {
        file: (Markup(svg[tree]) if tree else "", {path: Markup(svg[dot]) for path, dot in flows.items()})
        for file, (tree, flows) in planned.items()
    }


def _tree_dot(spec: ModelSpec, page: layout.Page, settings: RenderSettings, link: Callable[[str], str]) -> str:
    if "diagram" not in settings.options.sections:
        return ""
    return diagrams.tree_dot(spec, page.block, settings.options.depth, link, id_prefix=_id_prefix(settings))


def _flow_dots(
    spec: ModelSpec, page: layout.Page, settings: RenderSettings, link: Callable[[str], str]
) -> dict[str, str]:
    """Data-flow diagrams (DOT) for this page: its root's, and one for every block those draw collapsed.

    So every part of the forward pass documented on the page is drawn somewhere: the inside of
    a block collapsed in the page's diagram gets a diagram in that block's own section.
    """
    if "dataflow" not in settings.options.sections or spec.trace is None:
        return {}
    on_page = set(page.layers)
    depth = settings.options.depth
    flows: dict[str, str] = {}
    pending = [page.block]
    while pending:
        path = pending.pop(0)
        graph = diagrams.flow_graph(spec, path, depth)
        if graph is None:
            continue
        prefix = _id_prefix(settings) + ("" if path == page.block else f"{layout.anchor(path)}-")
        flows[path] = diagrams.write_dot(diagrams.draw_flow(graph), link, id_prefix=prefix)
        pending += [b for b in graph.blocks if b in on_page and b not in flows and b != path]
    return flows


def _id_prefix(settings: RenderSettings) -> str:
    return f"{settings.anchor_prefix}{settings.options.slug}-"


def render_index(models: list[tuple[ModelSpec, str]], site_name: str, env: Environment) -> str:
    """The home page of a standalone site: one entry per model, with a link to its page."""
    return render_template(env, "index.md.jinja", {"models": models, "site_name": site_name})


def layer_title(layer: LayerSpec, spec: ModelSpec) -> str:
    """How a layer is named in headings: its path, or the model name for the root."""
    return layer.path or spec.name
