"""structures: repeated blocks of one structure found, their differences listed, and one page each in a real site."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from modeldoc import pipeline
from modeldoc.options import ModelOptions, model_options
from modeldoc.pages import layout
from modeldoc.probe.collect import collect
from modeldoc.spec import ModelSpec
from tests.helpers.sites import build_site_of, markdown_pages, section_text, text_of


class Mixer(nn.Module):
    def __init__(self, width: int, p: float = 0.0) -> None:
        super().__init__()
        self.q = nn.Linear(width, width)
        self.drop = nn.Dropout(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.q(x))


class Dense(nn.Module):
    def __init__(self, width: int, p: float = 0.0) -> None:
        super().__init__()
        self.mix = Mixer(width, p)
        self.ff = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ff(self.mix(x))


class Wide(nn.Module):
    """Another kind of block: its feed-forward part goes through a wider hidden layer."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.mix = Mixer(width)
        self.up = nn.Linear(width, 2 * width)
        self.down = nn.Linear(2 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(self.up(self.mix(x)))


class TwoKinds(nn.Module):
    """3 dense blocks then 5 wide ones (like DeepSeek-V3's dense and mixture-of-experts blocks)."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.layers = nn.ModuleList([Dense(width) for _ in range(3)] + [Wide(width) for _ in range(5)])
        self.head = nn.Linear(width, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


class Varied(nn.Module):
    """Six dense blocks; block 4 has another dropout rate and block 2's q is frozen."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Dense(width, p=0.5 if i == 4 else 0.0) for i in range(6))
        self.layers[2].mix.q.weight.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class Distinct(nn.Module):
    """No repetition: every block has its own width."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4 + i, 5 + i) for i in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def options_for(module: nn.Module, shape: str) -> ModelOptions:
    """Options with small pages, so that the blocks get pages of their own."""
    target = f"tests.test_structures:{type(module).__name__}"
    return model_options({"target": target, "input_shapes": [shape], "page_size": 8})


def described(module: nn.Module, shape: str) -> ModelSpec:
    return pipeline.interpret(collect(module, options_for(module, shape)))


def test_two_kinds_of_block_are_two_groups_and_every_layer_names_its_group():
    spec = described(TwoKinds(), "2,8")
    groups = {group.id: group.instances for group in spec.structures}
    assert groups == {
        "Dense": ("layers.0", "layers.1", "layers.2"),
        "Wide": tuple(f"layers.{i}" for i in range(3, 8)),
    }
    by_path = {layer.path: layer for layer in spec.all_layers}
    assert by_path["layers.1.mix.q"].structure == "Dense"
    assert by_path["layers.6.down"].structure == "Wide"
    assert by_path["head"].structure == "" and by_path["layers"].structure == ""
    saved = spec.to_json()
    assert [group["id"] for group in saved["structures"]] == ["Dense", "Wide"]
    layers = saved["layers"] if isinstance(saved["layers"], list) else list(saved["layers"].values())
    assert len(layers) + 1 == len(spec.all_layers), "the JSON keeps every layer (the root apart)"
    assert {layer["path"]: layer.get("structure", "") for layer in layers}["layers.4.mix.drop"] == "Wide"


def test_differences_between_instances_are_listed():
    spec = described(Varied(), "2,8")
    (group,) = spec.structures
    assert group.instances == tuple(f"layers.{i}" for i in range(6))
    found = {(d.instance, d.path, d.aspect, d.name): (d.value, d.usual) for d in group.differences}
    assert found[("layers.4", "layers.4.mix.drop", "argument", "p")] == (0.5, 0.0)
    assert found[("layers.2", "layers.2.mix.q", "trainable", "weight")] == (False, True)
    assert len(found) == 2
    page = markdown_pages(spec, options_for(Varied(), "2,8"))
    shared = next(text for name, text in page.items() if name.startswith("blocks/dense-"))
    assert "no (frozen) in <code>layers.2</code>" in shared
    assert "<code>0.5</code> in <code>layers.4</code>" in shared


def test_blocks_without_repetition_form_no_group_and_keep_a_page_each():
    spec = described(Distinct(), "2,4")
    assert spec.structures == ()
    assert all(layer.structure == "" for layer in spec.all_layers)
    raw = collect(Distinct(), model_options({"target": "tests.test_structures:Distinct", "input_shapes": ["2,4"]}))
    assert [page.title for page in layout.plan_pages(spec, page_size=2)] == [
        page.title for page in layout.plan_pages(raw, page_size=2)
    ]


def test_index_like_arguments_read_as_the_blocks_own_index():
    class Indexed(nn.Module):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index
            self.lin = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(Indexed(i) for i in range(5))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = layer(x)
            return x

    spec = described(Stack(), "2,4")
    assert len(spec.structures) == 1
    assert [(d.instance, d.name, d.value) for d in spec.structures[0].differences] == [
        (f"layers.{i}", "index", i) for i in range(1, 5)
    ]
    page = next(text for name, text in markdown_pages(spec, options_for(Stack(), "2,4")).items() if "blocks/" in name)
    own = "the block's own index: <code>0</code> in <code>layers.0</code> … <code>4</code> in <code>layers.4</code>"
    assert own in page.replace("&#39;", "'")


@pytest.mark.slow
def test_built_site_has_one_page_per_structure_and_old_links_still_land(tmp_path):
    spec = described(TwoKinds(), "2,8")
    options = options_for(TwoKinds(), "2,8")
    pages = build_site_of(spec, options, tmp_path / "site")
    html = sorted(p.relative_to(pages).as_posix() for p in pages.rglob("index.html"))
    shared = [p for p in html if p.startswith("blocks/dense-") or p.startswith("blocks/wide-")]
    assert len(shared) == 2, html
    assert len(html) == 1 + 1 + 2, "the model, the block list and one page per structure"
    dense = (pages / next(p for p in shared if "dense" in p)).read_text(encoding="utf-8")
    wide = (pages / next(p for p in shared if "wide" in p)).read_text(encoding="utf-8")
    assert "Dense × 3" in text_of(dense) and "Wide × 5" in text_of(wide)
    # every instance's layers keep their anchors, on the page of their structure
    for i in range(3, 8):
        assert f'id="layer-layers-{i}-up"' in wide
    assert 'id="layer-layers-6-up"' not in dense
    assert "layers.3.up" in section_text(wide, "layer-layers-3-up")
    # the nav names the shared pages by structure and count
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "Dense × 3" in home and "Wide × 5" in home
    # a link to a later block's layer goes to the shared page's anchor
    block_list = next((pages / p).read_text(encoding="utf-8") for p in html if p.startswith("blocks/layers"))
    assert "wide-" in block_list and "#layer-layers-6" in block_list
    # search finds every instance's path, landing on its section of the shared page
    index = json.loads((tmp_path / "site" / "search" / "search_index.json").read_text(encoding="utf-8"))
    hits = [doc["location"] for doc in index["docs"] if doc["title"].startswith("layers.6.down")]
    assert hits and hits[0].endswith("#layer-layers-6-down") and "/blocks/wide-" in hits[0]


@pytest.mark.slow
def test_deepseek_v3_from_its_config_has_two_block_pages():
    from modeldoc.examples.frontier import make_deepseek_v3

    options = model_options(
        {"target": "modeldoc.examples.frontier:make_deepseek_v3", "input_shapes": ["1,L=16"], "input_dtype": "long"}
    )
    spec = pipeline.interpret(collect(make_deepseek_v3(), options))
    assert spec.probe_error == ""
    assert [(group.id, len(group.instances)) for group in spec.structures] == [
        ("DeepseekV3DecoderLayer", 3),
        ("DeepseekV3DecoderLayer-2", 58),
    ]
    titles = [page.title for page in layout.plan_pages(spec, options.page_size)]
    assert sum("DeepseekV3DecoderLayer ×" in title for title in titles) == 2
    assert any("× 58" in title for title in titles) and any("× 3" in title for title in titles)
    # layer_idx (a bookkeeping argument) differs in every block: the page says so, as each block's own index
    page = next(text for name, text in markdown_pages(spec, options).items() if "× 58" in text.split("\n", 1)[0])
    own = "own index: <code>3</code> in <code>model.layers.3</code> … <code>60</code> in <code>model.layers.60</code>"
    assert own in page.replace("&#39;", "'")
    experts = next(layer for layer in spec.all_layers if layer.path == "model.layers.3.mlp.experts")
    assert [p.shape for p in experts.parameters] == [(256, 4096, 7168), (256, 7168, 2048)]
    assert experts.parameters[0].dtype == "bfloat16"
