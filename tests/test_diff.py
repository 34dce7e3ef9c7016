"""modeldoc diff and modeldoc check: layers paired by path and structure, changes folded, goldens, exit codes.

The goldens are the examples the feature is proved on: the tutorial CNN with one more
convolution (fast), GPT-2 small against medium and LLaMA-2-70B against LLaMA-3-70B, built by
transformers from their configurations on the meta device (slow), and the bundled plain-PyTorch
LLaMA shapes, whose rotary embedding takes rope theta as an argument (slow).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from modeldoc import diff
from modeldoc.cli import main
from modeldoc.options import model_options
from modeldoc.pages import diff as shown
from modeldoc.pipeline import describe
from modeldoc.spec import ModelSpec

CNN = ("modeldoc.examples.fashion:Network", "modeldoc.examples.fashion_deeper:Network")
SHAPE = ("--input-shape", "1,1,28,28")


def spec(target: str, *shapes: object, **entry: object) -> ModelSpec:
    return describe(model_options({"target": target, "input_shapes": list(shapes), **entry}))


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_one_more_convolution_is_one_layer_added_and_fc1_s_new_derivation():
    old, new = spec(CNN[0], [1, 1, 28, 28]), spec(CNN[1], [1, 1, 28, 28])
    result = diff.diff(old, new)
    assert result.added == ("conv3",) and not result.removed and not result.renamed
    assert [(c.layer, c.name, c.old, c.new) for c in result.arguments] == [("fc1", "in_features", 192, 384)]
    (derivation,) = result.derivations
    assert (derivation.old_formula, derivation.new_formula) == ("12 × 4 × 4 = 192", "24 × 4 × 4 = 384")
    assert ("fc1", "weight", (120, 192), (120, 384)) in [(s.layer, s.what, s.old, s.new) for s in result.shapes]
    assert result.new.total_params - result.old.total_params == 24 * 12 * 9 + 24 + 120 * (384 - 192)
    assert not result.matches and diff.diff(old, old).matches


def test_a_layer_inserted_in_a_sequential_shifts_the_others_which_are_matched_by_structure(tmp_path):
    (tmp_path / "seqs.py").write_text(
        "from torch import nn\n"
        "def before():\n"
        "    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.ReLU(),\n"
        "                         nn.Flatten(), nn.Linear(8 * 24 * 24, 10))\n"
        "def after():\n"
        "    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Conv2d(4, 8, 3), nn.ReLU(),\n"
        "                         nn.Flatten(), nn.Linear(8 * 24 * 24, 10))\n"
    )
    old = spec(f"{tmp_path / 'seqs.py'}:before", [1, 1, 28, 28])
    new = spec(f"{tmp_path / 'seqs.py'}:after", [1, 1, 28, 28])
    result = diff.diff(old, new)
    assert result.added == ("2",)
    assert [(p.old, p.new) for p in result.renamed] == [("2", "3"), ("3", "4"), ("4", "5"), ("5", "6")]
    assert not result.arguments and not result.removed


def test_two_unrelated_models_have_nothing_in_common():
    result = diff.diff(spec(CNN[0]), spec("modeldoc.examples.text:TextClassifier"))
    assert result.unrelated
    assert shown.headline(result) == (
        "nothing in common: no layer of one matches a layer of the other; 5 layers removed, 4 added"
    )


def test_changes_repeated_in_numbered_blocks_are_folded_into_a_range():
    items = [diff.ArgumentChange(f"h.{i}.ln", "normalized_shape", [768], [1024]) for i in range(12)]
    (folded,) = diff.fold(items, lambda c: c.layer, lambda c: (c.name, repr(c.old), repr(c.new)))
    assert folded.where == "h.{0…11}.ln (12 layers)"
    assert diff.top_level(["h.12", "h.12.attn", "h.12.attn.c_attn", "h.13"]) == [("h.12", 2), ("h.13", 0)]


def test_the_cnn_diff_golden_in_every_format(golden):
    for fmt, suffix in (("text", "txt"), ("markdown", "md"), ("json", "json")):
        code, stdout, stderr = invoke("diff", *CNN, *SHAPE, "--format", fmt, "-q")
        assert code == 0, stderr
        golden.check(f"diff_cnn.{suffix}", stdout)
    data = json.loads(stdout)
    assert data["schema"] == "modeldoc-diff/1" and data["matches"] is False and data["added"] == ["conv3"]


def test_check_passes_on_the_same_model_and_fails_with_the_diff_on_a_changed_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = invoke(
        "inspect", "modeldoc.examples.text:TextClassifier", "--input-shape", "1,L=32", "--input-dtype", "long", "--json"
    )
    assert code == 0
    Path("text.json").write_text(stdout)
    # without input flags the model is probed with the inputs the description recorded (a symbolic L included)
    code, stdout, stderr = invoke("check", "text.json", "modeldoc.examples.text:TextClassifier")
    assert (code, stdout) == (0, "modeldoc.examples.text:TextClassifier matches text.json\n"), stderr
    code, stdout, _ = invoke("inspect", CNN[0], *SHAPE, "--json")
    Path("fashion.json").write_text(stdout)
    code, stdout, stderr = invoke("check", "fashion.json", CNN[1])
    assert code == 1
    assert "added:\n  conv3" in stdout and "fc1: in_features 192 → 384" in stdout
    assert stderr.startswith(f"Error: {CNN[1]} no longer matches fashion.json (1 layer added;")
    assert len(stderr.splitlines()) == 1


def test_check_ignores_what_changes_with_modeldoc_not_the_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, stdout, _ = invoke("inspect", CNN[0], *SHAPE, "--json")
    data = json.loads(stdout)
    for layer in data["layers"]:
        layer["summary"] = "older teaching text"
        for hp in layer["hyperparameters"]:
            hp["reason"] = "an older reason"
    data["warnings"] = ["an old warning"]
    data["model"]["macs"] += 1
    Path("old.json").write_text(json.dumps(data))
    code, stdout, stderr = invoke("check", "old.json", CNN[0])
    assert code == 0, stdout + stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "not-a-description.txt", CNN[0]), "is not a saved description"),
        (("diff", CNN[0]), "Missing argument"),
    ],
)
def test_diff_and_check_misuse_is_exit_2(args, message):
    code, _, stderr = invoke(*args)
    assert code == 2 and message in stderr


def test_a_checkpoint_diffs_against_another_by_its_tensors():
    from modeldoc.examples.digits import WEIGHTS

    code, stdout, stderr = invoke("diff", str(WEIGHTS), str(WEIGHTS), "-q")
    assert code == 0, stderr
    assert "the same architecture" in stdout.splitlines()[0]


@pytest.mark.slow
def test_gpt2_small_against_medium_golden(golden):
    code, stdout, stderr = invoke(
        "diff",
        "tests.diff_models:gpt2_small",
        "tests.diff_models:gpt2_medium",
        "--input-shape",
        "1,L=16",
        "--input-dtype",
        "long",
        "--format",
        "markdown",
        "-q",
    )
    assert code == 0, stderr
    golden.check("diff_gpt2.md", stdout)
    assert "**Added** (156 modules): h.12 … h.23 (12 blocks, with 144 modules inside)" in stdout
    assert (
        "| h.&#123;0…11&#125;.attn.c&#95;attn (12 layers) | <code>nx</code> | <code>768</code> | <code>1024</code> |"
        in stdout
    )


@pytest.mark.slow
def test_llama2_70b_against_llama3_70b_golden(golden):
    code, stdout, stderr = invoke(
        "diff",
        "tests.diff_models:llama2_70b",
        "tests.diff_models:llama3_70b",
        "--input-shape",
        "1,L=16",
        "--input-dtype",
        "long",
        "-q",
    )
    assert code == 0, stderr
    golden.check("diff_llama_hf.txt", stdout)
    assert "model.embed_tokens: num_embeddings 32000 → 128256" in stdout
    # rope theta is the rotary embedding's argument; the config keys that differ are named in a note
    assert "model.rotary_emb: rope_theta 10000.0 → 500000.0" in stdout
    note = next(line for line in stdout.splitlines() if line.startswith("note: config keys that differ:"))
    assert "vocab_size 32000 → 128256" in note


@pytest.mark.slow
def test_the_bundled_llama_shapes_show_vocabulary_and_rope_theta(golden):
    code, stdout, stderr = invoke(
        "diff",
        "modeldoc.examples.llama:make_llama_70b",
        "modeldoc.examples.llama3:make_llama3_70b",
        "--input-shape",
        "1,L=16",
        "--input-dtype",
        "long",
        "-q",
    )
    assert code == 0, stderr
    golden.check("diff_llama.txt", stdout)
    assert "layers.{0…79}.attn.rotary (80 layers): base 10000.0 → 500000.0" in stdout
    assert "  embed_tokens: num_embeddings 32000 → 128256" in stdout
    # Llama keeps no vocab_size attribute: the model-level argument is named as unread, not compared
    assert "both models take dim, eps, hidden_dim, n_heads, n_kv_heads, n_layers, vocab_size" in stdout


DIFF_PAGE = """# What changed

::: modeldoc-diff modeldoc.examples.fashion:Network modeldoc.examples.fashion_deeper:Network
    input_shape: [1, 1, 28, 28]
    heading_level: 3

```markdown
::: modeldoc-diff this.is.not:Loaded nor.is:This
```
"""


@pytest.mark.slow
def test_a_diff_block_renders_the_diff_in_a_real_mkdocs_build(tmp_path):
    from mkdocs.commands.build import build

    from tests.helpers.sites import article, article_html, docs_project, mkdocs_config, site_page, text_of

    docs_project(tmp_path, {"index.md": DIFF_PAGE})
    build(mkdocs_config(tmp_path, strict=True))
    page = site_page(tmp_path, "index.html")
    assert re.search(r'<h3 id="architecture-diff[^"]*"', page)
    text = text_of(article(page))
    assert "1 layer added" in text and "conv3" in text
    assert "12 × 4 × 4 = 192" in text and "24 × 4 × 4 = 384" in text
    assert "<table>" in article_html(page)
    assert "::: modeldoc-diff this.is.not:Loaded nor.is:This" in text  # fenced: shown as code, not loaded


def test_a_diff_block_with_one_model_stops_the_build_with_one_line(tmp_path, caplog):
    import logging

    from mkdocs.commands.build import build
    from mkdocs.exceptions import Abort

    from tests.helpers.sites import docs_project, mkdocs_config

    docs_project(tmp_path, {"index.md": "# Diff\n\n::: modeldoc-diff modeldoc.examples.fashion:Network\n"})
    with caplog.at_level(logging.ERROR, logger="mkdocs"), pytest.raises(Abort):
        build(mkdocs_config(tmp_path))
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and "modeldoc-diff" in errors[1] and "\n" not in errors[1], errors


def test_two_unrelated_models_on_the_command_line_say_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, stdout, _ = invoke("inspect", CNN[0], *SHAPE, "--json")
    Path("fashion.json").write_text(stdout)
    text_input = ("--input-shape", "1,L=32", "--input-dtype", "long")
    code, _, stderr = invoke("check", "fashion.json", "modeldoc.examples.text:TextClassifier", *text_input)
    assert code == 1 and len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("Error: modeldoc.examples.text:TextClassifier no longer matches fashion.json (nothing in")
    code, stdout, stderr = invoke("diff", CNN[0], "modeldoc.examples.text:TextClassifier", "-q")
    assert code == 0 and stderr == ""
    assert stdout.splitlines()[0] == (
        f"{CNN[0]} → modeldoc.examples.text:TextClassifier: nothing in common: no layer of one matches a layer of "
        "the other; 5 layers removed, 4 added"
    )
