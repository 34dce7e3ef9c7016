"""A model as one self-contained HTML fragment, for Jupyter's rich display (`_repr_html_`).

What ``torchinfo.summary`` gives, with modeldoc's explanations: the overview (class, totals,
inputs and outputs, cost), the diagrams (inline SVG when Graphviz's ``dot`` is on PATH; a note
saying so when it is not), and the layer table with each constructor argument and its kind.
No script, no external file; every string from the model is escaped; the styles are scoped to
this fragment's own id, so a notebook's other cells look as before.
"""

from __future__ import annotations

import html
import itertools
import shutil
from collections.abc import Iterator

from modeldoc import diagrams
from modeldoc.errors import ModeldocError
from modeldoc.pages import layout, summary
from modeldoc.pages.render import do_count, do_nbytes, do_shape, do_value
from modeldoc.pages.summary import SOURCES
from modeldoc.spec import Hyperparam, LayerSpec, ModelSpec

_IDS = itertools.count(1)

_STYLE = """
#{id} {{ font-family: inherit; line-height: 1.4; }}
#{id} .mdoc-table {{ border-collapse: collapse; margin: 0.4em 0 1em; font-size: 0.92em; }}
#{id} .mdoc-table th, #{id} .mdoc-table td {{
  border-bottom: 1px solid rgba(128, 128, 128, 0.3); padding: 0.25em 0.7em; text-align: left;
  vertical-align: top;
}}
#{id} .mdoc-table .mdoc-num {{ text-align: right; font-variant-numeric: tabular-nums; }}
#{id} .mdoc-kind {{ border-radius: 0.3em; padding: 0 0.35em; font-size: 0.85em; white-space: nowrap; }}
#{id} .mdoc-hp {{ background: rgba(60, 120, 216, 0.18); }}
#{id} .mdoc-dd {{ background: rgba(230, 145, 56, 0.22); }}
#{id} .mdoc-args {{ margin: 0; padding-left: 1em; }}
#{id} .mdoc-note {{ border-left: 3px solid rgba(230, 145, 56, 0.8); padding: 0.2em 0.6em; margin: 0.5em 0; }}
#{id} .mdoc-diagram {{ overflow: auto; max-height: 36em; }}
#{id} .mdoc-diagram svg {{ max-width: none; height: auto; }}
"""


def model_html(spec: ModelSpec, *, depth: int = 2, all_arguments: bool = False) -> str:
    """The HTML fragment for `spec`; diagrams are drawn `depth` levels deep."""
    uid = f"modeldoc-{next(_IDS)}"
    parts = [
        f'<div class="modeldoc-repr" id="{uid}">',
        f"<style>{_STYLE.format(id=uid)}</style>",
        f"<h3>{_e(spec.title)}</h3>",
        *_overview(spec),
        *_diagrams(spec, depth, uid),
        *_layer_table(spec, uid, all_arguments=all_arguments),
        "</div>",
    ]
    return "\n".join(parts)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _code(text: object) -> str:
    return f"<code>{_e(text)}</code>"


def _overview(spec: ModelSpec) -> Iterator[str]:
    rows = [("Class", _code(spec.type))]
    if spec.target:
        rows.append(("Loaded from", _code(spec.target)))
    rows.append(
        (
            "Parameters",
            f"{do_count(spec.total_params)} ({do_count(spec.trainable_params)} trainable, "
            f"{do_count(spec.frozen_params)} frozen)",
        )
    )
    sizes = ", ".join(f"{do_nbytes(size)} of {_e(dtype)}" for dtype, size in spec.bytes_by_dtype.items())
    rows.append(("Size", sizes or "0 B"))
    rows.append(("Layers", f"{do_count(len(spec.layers))} modules below the root"))
    rows += [(f"Input {_code(i.name)}", f"{_e(do_shape(i.dims or i.shape))} ({_e(i.dtype)})") for i in spec.inputs]
    rows += [(f"Output {_code(o.name)}", f"{_e(do_shape(o.dims or o.shape))} ({_e(o.dtype)})") for o in spec.outputs]
    if spec.macs or spec.flops:
        rows.append(
            (
                "One forward pass",
                f"{do_count(spec.macs)} multiply-adds, {do_count(spec.flops)} FLOPs, "
                f"{do_nbytes(spec.activation_bytes)} of activations",
            )
        )
    yield '<table class="mdoc-table mdoc-overview">'
    yield from (f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    yield "</table>"
    if spec.probe_error:
        yield f'<p class="mdoc-note">Shape probe: {_e(spec.probe_error)}</p>'
    yield from (f'<p class="mdoc-note">Warning: {_e(w)}</p>' for w in spec.warnings if w != spec.probe_error)


def _diagrams(spec: ModelSpec, depth: int, uid: str) -> Iterator[str]:
    if shutil.which("dot") is None:
        yield (
            '<p class="mdoc-note">The diagrams need Graphviz\'s <code>dot</code> program, which is not on PATH; '
            "install Graphviz (apt-get install graphviz, brew install graphviz, conda install graphviz) "
            "to see the module tree and the data flow here.</p>"
        )
        return

    def link(path: str) -> str:
        return f"#{uid}-{layout.anchor(path)}"

    drawn = [("Module tree", diagrams.tree_dot(spec, "", depth, link, id_prefix=f"{uid}-"))]
    if spec.trace is not None:
        drawn.append(("Data flow", diagrams.flow_dot(spec, "", depth, link, id_prefix=f"{uid}-")))
    for title, dot in drawn:
        if not dot:
            continue
        try:
            svg = diagrams.render_svg(dot)
        except ModeldocError as err:
            yield f'<p class="mdoc-note">{_e(title)}: {_e(err)}</p>'
            continue
        yield f'<details open><summary>{_e(title)}</summary><div class="mdoc-diagram">{svg}</div></details>'


def _layer_table(spec: ModelSpec, uid: str, *, all_arguments: bool) -> Iterator[str]:
    yield "<details open><summary>Layers</summary>"
    yield '<table class="mdoc-table mdoc-layers">'
    yield (
        '<tr><th>Layer</th><th>Type</th><th>Output shape</th><th class="mdoc-num">Parameters</th>'
        "<th>Constructor arguments and their kinds</th></tr>"
    )
    hidden = 0
    for layer in spec.all_layers:
        shown = [h for h in layer.hyperparameters if all_arguments or not h.default or h.kind == "data-dependent"]
        hidden += len(layer.hyperparameters) - len(shown)
        indent = f"{layer.depth * 1.2:.1f}em"
        name = _e(layer.name) if layer.path else _e(spec.name)
        yield (
            f'<tr id="{uid}-{layout.anchor(layer.path)}">'
            f'<td style="padding-left: {indent}" title="{_e(layer.path)}"><code>{name}</code></td>'
            f"<td>{_e(layer.type_name)}</td>"
            f"<td>{_e(_outputs(layer, spec))}</td>"
            f'<td class="mdoc-num">{do_count(layer.total_params)}</td>'
            f"<td>{_arguments(shown)}</td></tr>"
        )
    yield "</table>"
    legend = (
        '<span class="mdoc-kind mdoc-hp">hyperparameter</span> chosen by the designer; '
        '<span class="mdoc-kind mdoc-dd">data-dependent</span> fixed by the data (the input, the previous '
        "layer's output or the target), with the arithmetic that fixed it."
    )
    if hidden:
        legend += f" {do_count(hidden)} arguments left at their defaults are not listed."
    yield f"<p>{legend}</p></details>"


def _outputs(layer: LayerSpec, spec: ModelSpec) -> str:
    shown = summary.output_text(layer, spec)
    return "" if shown == "-" else shown


def _arguments(shown: list[Hyperparam]) -> str:
    if not shown:
        return ""
    items = "".join(f"<li>{_code(f'{h.name} = {do_value(h.value)}')} {_kind(h)}</li>" for h in shown)
    return f'<ul class="mdoc-args">{items}</ul>'


def _kind(hp: Hyperparam) -> str:
    if hp.kind != "data-dependent":
        badge = '<span class="mdoc-kind mdoc-hp">hyperparameter</span>'
    else:
        badge = f'<span class="mdoc-kind mdoc-dd">data-dependent · {_e(SOURCES.get(hp.source, hp.source))}</span>'
    if hp.formula:
        badge += f" {_code(hp.formula)}"
    if hp.inferred:
        badge += " (inferred)"
    if hp.error:
        badge += f" <strong>does not fit the data:</strong> {_e(hp.error)}"
    return badge
