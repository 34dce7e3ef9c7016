"""knowledge.loader and the knowledge options: a project's folders and installed packages add and extend entries."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from modeldoc import knowledge
from modeldoc.errors import ConfigError
from modeldoc.explain import layers as explain
from modeldoc.knowledge import loader
from modeldoc.options import knowledge_folders, site_options
from modeldoc.spec import Hyperparam, LayerSpec, ParamSpec
from tests.helpers import REPO
from tests.helpers.run import run
from tests.helpers.sites import docs_project, mkdocs_config, site_page

GATED = "modeldoc.examples.gated:GatedNet"


def folder_with(tmp_path: Path, name: str, text: str) -> Path:
    """A knowledge folder holding one file `name` with `text`."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / "entries.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def user_linear() -> LayerSpec:
    """A user's layer with Linear's arguments and weight, that does not subclass nn.Linear."""
    return LayerSpec(
        path="proj",
        type="mypkg.layers.Projection",
        type_name="Projection",
        repr="Projection()",
        depth=1,
        parent="",
        hyperparameters=(
            Hyperparam(name="in_features", value=6, kind="hyperparameter", source="chosen"),
            Hyperparam(name="out_features", value=4, kind="hyperparameter", source="chosen"),
            Hyperparam(name="bias", value=False, kind="hyperparameter", source="chosen"),
        ),
        parameters=(
            ParamSpec(
                name="proj.weight",
                local_name="weight",
                shape=(4, 6),
                dtype="float32",
                numel=24,
                nbytes=96,
                trainable=True,
            ),
        ),
        input_shapes=((2, 6),),
        output_shapes=((2, 4),),
    )


def test_a_user_entry_extends_a_shipped_one(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        "knowledge",
        """
        mypkg.layers.Projection:
          extends: Linear
          summary: "A projection of {{ in_features }} features to {{ out_features }}, written by hand."
        """,
    )
    table = knowledge.load([folder], entry_points=False)
    entry = table.lookup("mypkg.layers.Projection")
    assert entry is not None and not entry.shipped and entry.origin.endswith("entries.yaml")
    assert table.added == (entry,) and table.folders == (folder,)
    layer = explain.annotate_layer(user_linear(), table=table)
    assert layer.summary == "A projection of 6 features to 4, written by hand."
    assert [(h.name, h.kind, h.dim) for h in layer.hyperparameters[:2]] == [
        ("in_features", "data-dependent", "in0:-1"),
        ("out_features", "hyperparameter", "out0:-1"),
    ]
    assert layer.parameters[0].axes == ("out_features", "in_features") and layer.brief == "6→4"
    assert not layer.inferred
    # without the folder the same layer is inferred
    assert explain.annotate_layer(user_linear(), table=knowledge.shipped()).inferred


def test_a_shipped_key_is_replaced_only_when_the_entry_says_so(tmp_path: Path) -> None:
    clash = folder_with(tmp_path, "clash", "Linear: {summary: 'mine'}\n")
    with pytest.raises(knowledge.KnowledgeError) as raised:
        knowledge.load([clash], entry_points=False)
    assert str(raised.value) == (
        "knowledge entry Linear: is already defined in modeldoc/knowledge/linear.yaml; add replace: true to replace "
        "that entry (with extends: Linear to change only some of its fields), or use a key of its own "
        f"(in {clash / 'entries.yaml'}; fix the entry there)"
    )
    whole = folder_with(tmp_path, "whole", "Linear: {replace: true, summary: 'only this'}\n")
    replaced = knowledge.load([whole], entry_points=False).lookup("Linear")
    assert replaced is not None and replaced.summary == "only this" and replaced.args == {}
    some = folder_with(tmp_path, "some", "Linear: {replace: true, extends: Linear, summary: 'a new summary'}\n")
    table = knowledge.load([some], entry_points=False)
    changed = table.lookup("Linear")
    assert changed is not None and changed.summary == "a new summary" and not changed.shipped
    assert changed.args["in_features"].kind == "data-dependent" and changed.brief == (
        "{{ in_features }}→{{ out_features }}",
    )
    # entries built on the replaced one see the replacement
    lazy = table.lookup("LazyLinear")
    assert lazy is not None and lazy.summary == "a new summary"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "a.New: {replace: true, summary: x}",
            "knowledge entry a.New: says replace: true, but no earlier entry has this key; remove replace",
        ),
        ("a.New: {extends: Linaer}", "knowledge entry a.New: extends unknown entry 'Linaer'; did you mean 'Linear'?"),
        (
            "a.One: {extends: a.Two}\na.Two: {extends: a.One}",
            "knowledge entry a.One: extends itself through a.One → a.Two → a.One",
        ),
    ],
)
def test_extends_and_replace_problems_are_named(tmp_path: Path, text: str, problem: str) -> None:
    folder = folder_with(tmp_path, "knowledge", text)
    _, problems = knowledge.read([folder], entry_points=False)
    assert [str(p) for p in problems][:1] == [f"{problem} (in {folder / 'entries.yaml'}; fix the entry there)"]


def test_a_table_is_cached_by_its_folders_and_read_again_when_a_file_changes(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "knowledge", "a.B: {summary: first}\n")
    first = knowledge.load([folder], entry_points=False)
    assert knowledge.load([folder], entry_points=False) is first
    assert knowledge.load([], entry_points=False) is not first
    path = folder / "entries.yaml"
    path.write_text("a.B: {summary: second, brief: changed}\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    second = knowledge.load([folder], entry_points=False)
    entry = second.lookup("a.B")
    assert second is not first and entry is not None and entry.summary == "second"


def test_using_makes_a_table_current_for_the_probe(tmp_path: Path) -> None:
    table = knowledge.load([folder_with(tmp_path, "knowledge", "a.B: {summary: x}\n")], entry_points=False)
    assert knowledge.lookup("a.B") is None
    with knowledge.using(table):
        assert knowledge.current() is table and knowledge.lookup("a.B") is not None
    assert knowledge.lookup("a.B") is None


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    _, problems = knowledge.read([tmp_path / "nowhere"], entry_points=False)
    assert [str(p) for p in problems] == [f"knowledge file {tmp_path / 'nowhere'}: is not a folder; fix the file"]


# --- options: [tool.modeldoc] knowledge, --knowledge, package names --------------------------------


def test_knowledge_option_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "more").mkdir()
    table = {"knowledge": "knowledge", "models": [{"target": "pkg.models:Net"}, {"target": "pkg.models:Other"}]}
    site = site_options(table, where="pyproject.toml", base=tmp_path)
    assert [m.knowledge for m in site.models] == [(tmp_path / "knowledge",)] * 2
    both = knowledge_folders(["knowledge", str(tmp_path / "more")], where="x", base=tmp_path)
    assert both == (tmp_path / "knowledge", tmp_path / "more")
    assert knowledge_folders("modeldoc.examples.knowledge", where="x", base=tmp_path) == (
        Path(knowledge.__file__).parent.parent / "examples" / "knowledge",
    )
    assert knowledge_folders(None, where="x", base=tmp_path) == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "nowhere",
            "knowledge folder 'nowhere' in pyproject.toml is not a folder (nor an installed package); "
            "create it or fix the path",
        ),
        (3, 'knowledge in pyproject.toml is 3; give a folder or a list of folders of YAML files, e.g. "knowledge"'),
        (["knowledge", 4], "knowledge in pyproject.toml is ['knowledge', 4]; give a folder or a list of folders"),
    ],
)
def test_a_bad_knowledge_option_says_what_to_write(tmp_path: Path, value: object, message: str) -> None:
    (tmp_path / "knowledge").mkdir()
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        knowledge_folders(value, where="pyproject.toml", base=tmp_path)


def test_the_page_of_a_user_layer_shows_the_users_entry(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["build", GATED, "--input-shape", "1,16", "--input-dtype", "long", "--markdown-only", "--no-diagrams"]
    before = cli(*args, "--docs-dir", "before", "-q")
    after = cli(*args, "--docs-dir", "after", "--knowledge", "modeldoc.examples.knowledge", "-q")
    assert before.exit_code == after.exit_code == 0, before.output + after.output
    page = (tmp_path / "after" / "gatednet" / "index.md").read_text(encoding="utf-8")
    inferred = (tmp_path / "before" / "gatednet" / "index.md").read_text(encoding="utf-8")
    summary = "A gated feed-forward block (SwiGLU). Each token&#39;s 64 features are projected twice to 172 features"
    assert summary in page and summary not in inferred
    row = "| <code>dim</code> | <code>64</code> | data-dependent | previous-layer | must equal the number of features"
    assert row in page and row not in inferred
    assert "| <code>mlp.gate&#95;up</code> | 344 × 64 | gate and up (2 × hidden) × dim |" in page
    assert "| <code>mlp.down</code> | 64 × 172 | dim × hidden |" in page


def test_a_pyproject_knowledge_folder_applies_to_its_models(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [tool.modeldoc]
            knowledge = "{Path(knowledge.__file__).parent.parent / "examples" / "knowledge"}"
            [[tool.modeldoc.models]]
            target = "{GATED}"
            input_shape = [1, 16]
            input_dtype = "long"
            """
        ),
        encoding="utf-8",
    )
    result = cli("build", "--markdown-only", "--docs-dir", "docs/models", "--no-diagrams", "-q")
    assert result.exit_code == 0, result.output
    assert "A gated feed-forward block (SwiGLU)" in (tmp_path / "docs/models/gatednet/index.md").read_text()
    refused = cli("build", "--knowledge", "knowledge", "--no-diagrams")
    assert refused.exit_code == 2
    assert "--knowledge needs a TARGET, and building pyproject.toml's [tool.modeldoc] models takes its models" in (
        refused.output
    )


# --- entry points: a real distribution on sys.path ------------------------------------------------


@pytest.fixture(autouse=True)
def _forget_the_installed_package() -> Iterator[None]:
    """The package these tests install goes with its folder: drop it from sys.modules afterwards."""
    yield
    for name in [n for n in sys.modules if n == "gate_knowledge" or n.startswith("gate_knowledge.")]:
        del sys.modules[name]


def install_distribution(site: Path, entry_points: str) -> None:
    """A package `gate_knowledge` with one entry, and its .dist-info declaring `entry_points`, under `site`."""
    package = site / "gate_knowledge"
    (package / "entries").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "entries" / "__init__.py").write_text("", encoding="utf-8")
    (package / "where.py").write_text(
        "from pathlib import Path\n\ndef folder():\n    return Path(__file__).parent / 'entries'\n", encoding="utf-8"
    )
    (package / "entries" / "gate.yaml").write_text(
        "gate_knowledge.Gate: {summary: 'A gate from an installed package.'}\n", encoding="utf-8"
    )
    info = site / "gate_knowledge-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gate-knowledge\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[modeldoc.knowledge]\n{entry_points}\n", encoding="utf-8")


@pytest.mark.parametrize("value", ["gate_knowledge.entries", "gate_knowledge.where:folder"])
def test_an_installed_package_adds_entries_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    install_distribution(tmp_path, f"gate = {value}")
    monkeypatch.syspath_prepend(str(tmp_path))
    table = knowledge.load(())
    entry = table.lookup("gate_knowledge.Gate")
    assert entry is not None and entry.summary == "A gate from an installed package." and not entry.shipped
    assert [s.label for s in table.sources] == ["modeldoc", "entry point gate (gate-knowledge)"]
    assert knowledge.load((), entry_points=False).lookup("gate_knowledge.Gate") is None


def test_a_broken_entry_point_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_distribution(tmp_path, "gate = gate_knowledge.missing")
    monkeypatch.syspath_prepend(str(tmp_path))
    _, problems = knowledge.read(())
    assert [str(p) for p in problems] == [
        "the modeldoc.knowledge entry point gate (gate-knowledge) = 'gate_knowledge.missing' cannot be used: "
        "ModuleNotFoundError: No module named 'gate_knowledge.missing'; fix or uninstall that package"
    ]


def test_the_check_command_finds_an_installed_packages_entries(tmp_path: Path) -> None:
    install_distribution(tmp_path, "gate = gate_knowledge.entries")
    work = tmp_path / "work"
    work.mkdir()
    result = run("modeldoc", "knowledge", "check", cwd=work, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "note: gate_knowledge.Gate has no example, so it was checked against the schema only; add example: to build it",
        "checked 1 knowledge entry (0 built from their examples): no problems",
    ]


def test_the_docs_page_shows_the_bundled_entry_as_it_ships() -> None:
    page = (REPO / "docs" / "knowledge.md").read_text(encoding="utf-8")
    shipped = (Path(knowledge.__file__).parent.parent / "examples" / "knowledge" / "gated.yaml").read_text(
        encoding="utf-8"
    )
    assert f"```yaml\n{shipped}```" in page


# --- the MkDocs plugin's knowledge option ---------------------------------------------------------

GATED_BLOCK = """# Gated

::: modeldoc modeldoc.examples.gated:GatedNet
    input_shape: [1, 16]
    input_dtype: long
    sections: [layers]
"""
SUMMARY = "A gated feed-forward block (SwiGLU). Each token's 64 features are projected twice to 172 features"


def _mkdocs_project(root: Path, plugin: dict[str, object]) -> object:
    """A project in `root` with one page holding a GatedNet block, and its validated MkDocs config."""
    docs_project(root, {"index.md": GATED_BLOCK})
    (root / "knowledge").mkdir()
    shipped = Path(knowledge.__file__).parent.parent / "examples" / "knowledge" / "gated.yaml"
    (root / "knowledge" / "gated.yaml").write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    return mkdocs_config(root, {"diagrams": False, **plugin}, site_name="Gated", strict=True)


def _page_text(root: Path) -> str:
    from html import unescape

    return unescape(site_page(root, "index.html"))


@pytest.mark.parametrize("option", ["knowledge", ["knowledge"]])
def test_the_plugins_knowledge_option_describes_the_users_layer(tmp_path: Path, option: object) -> None:
    from mkdocs.commands.build import build

    build(_mkdocs_project(tmp_path, {"knowledge": option}))  # type: ignore[arg-type]
    assert SUMMARY in _page_text(tmp_path)


def test_the_plugin_reads_pyprojects_knowledge_when_it_has_none(tmp_path: Path) -> None:
    from mkdocs.commands.build import build

    cfg = _mkdocs_project(tmp_path, {})
    build(cfg)  # type: ignore[arg-type]
    assert SUMMARY not in _page_text(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.modeldoc]\nknowledge = "knowledge"\n', encoding="utf-8")
    build(cfg)  # type: ignore[arg-type]
    assert SUMMARY in _page_text(tmp_path)


def test_a_missing_plugin_knowledge_folder_stops_the_build_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mkdocs.commands.build import build
    from mkdocs.exceptions import Abort

    cfg = _mkdocs_project(tmp_path, {"knowledge": "nowhere"})
    with pytest.raises(Abort):
        build(cfg)  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "knowledge folder 'nowhere' in plugins.modeldoc.knowledge in mkdocs.yml is not a folder (nor an installed "
        "package); create it or fix the path"
    ]


def test_a_live_preview_of_a_target_carries_the_knowledge_folders(tmp_path: Path) -> None:
    from dataclasses import replace

    from mkdocs.config import load_config

    from modeldoc.options import SiteOptions, model_options
    from modeldoc.site import serve

    folder = tmp_path / "knowledge"
    folder.mkdir()
    model = model_options({"target": GATED, "input_shape": [1, 16], "input_dtype": "long"})
    site = SiteOptions(models=(replace(model, knowledge=(folder,)),))
    cfg = load_config(config_file=str(serve.standalone_config(site, tmp_path / "preview")))
    assert cfg.plugins["modeldoc"].config.knowledge == [str(folder)]


def test_the_entry_points_found_are_kept_while_no_folder_on_the_path_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[int] = []
    real = loader._scan_entry_points

    def counted(problems: Any) -> Any:
        scans.append(1)
        return real(problems)

    monkeypatch.setattr(loader, "_scan_entry_points", counted)
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    first = knowledge.load(())
    assert first.lookup("gate_knowledge.Gate") is None
    assert knowledge.load(()) is first and len(scans) == 1  # nothing installed since: not scanned again
    install_distribution(site, "gate = gate_knowledge.entries")  # the folder on the path changed
    os.utime(site, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))  # a coarse clock still sees it change
    table = knowledge.load(())
    assert len(scans) == 2
    entry = table.lookup("gate_knowledge.Gate")
    assert entry is not None and entry.summary == "A gate from an installed package."
    monkeypatch.setattr(loader, "KEEP_SCAN", False)
    assert knowledge.load(()).lookup("gate_knowledge.Gate") == entry
    assert len(scans) == 3


def test_a_kept_scan_still_names_a_broken_entry_point_each_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(tmp_path, "gate = gate_knowledge.missing")
    monkeypatch.syspath_prepend(str(tmp_path))
    named = [[str(p) for p in knowledge.read(())[1]] for _ in range(2)]
    assert named[0] == named[1] and len(named[0]) == 1 and "gate_knowledge.missing" in named[0][0]
