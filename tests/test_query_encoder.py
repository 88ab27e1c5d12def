"""The question encoder: int8 through ONNX Runtime stays close to the library's vectors, else the fp32 graph."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from archive_qa import encoder_graph, query_encoder

QUESTIONS = ["What did Stalin say about neutral countries?", "1952",
             "Why did the Embassy in Moscow doubt the Soviet note on German reunification in March 1952?",
             "Who negotiated the prisoner exchange at Panmunjom?", "armistice " * 400]  # past 256 tokens: truncated


def library(embedder, texts: list[str]) -> np.ndarray:
    """The library's own unit vectors."""
    return embedder._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


@pytest.fixture(scope="module")
def int8(embedder) -> query_encoder.Encoder:
    """The default encoder, built once for the module."""
    return query_encoder.build(embedder._model)


def test_default_encoder_is_int8_onnx_runtime_and_close_to_the_library(embedder, int8) -> None:
    assert isinstance(int8, query_encoder.OnnxEncoder), "onnxruntime is a dependency: the int8 encoder must build"
    for question, expected in zip(QUESTIONS, library(embedder, QUESTIONS)):
        vector = int8.encode(question)
        assert vector.shape == (embedder.dimension,) and vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert float(vector @ expected) >= query_encoder.MIN_COSINE, question
        assert float(vector @ expected) < 1 - 1e-6, "int8 must differ from fp32 a little, or it is not int8"


def test_int8_keeps_the_ranking_of_documents_for_a_question(embedder, int8) -> None:
    documents = ["Telegram from the Embassy in Moscow on the Soviet note proposing German reunification.",
                 "Memorandum on tuna fishermen contaminated by fallout from the Bikini test.",
                 "Minutes of the armistice talks at Panmunjom on the exchange of prisoners of war.",
                 "Letter from Mao Zedong to Stalin on the Korean War."]
    vectors = library(embedder, documents)  # the documents keep their fp32 vectors
    for question in QUESTIONS[3:5]:
        want = np.argsort(-(vectors @ library(embedder, [question])[0]))
        assert np.array_equal(np.argsort(-(vectors @ int8.encode(question))), want)


def test_an_empty_text_still_gets_a_unit_vector_near_the_library_one(embedder, int8) -> None:
    vector = int8.encode("")  # two tokens ([CLS] [SEP]): the farthest case, 0.98 here; questions are never empty
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5 and float(vector @ library(embedder, [""])[0]) > 0.95


@pytest.mark.parametrize("text", [*QUESTIONS, "", "  spaced\tout \n", "Hammarskjöld’s „Dag“ — Ünïcödé", "M. Vyshinsky's note" * 60])
def test_direct_token_ids_are_the_librarys(embedder, text: str) -> None:
    tokens = query_encoder.token_ids(embedder._model)
    assert tokens is not None and getattr(tokens, "__name__", "") == "direct", "a fast tokenizer: the direct path"
    assert np.array_equal(tokens(text), embedder._model.preprocess([text])["input_ids"].numpy())


def test_a_failed_int8_check_falls_back_to_the_exact_fp32_graph(embedder, caplog) -> None:
    with caplog.at_level("WARNING", logger="archive_qa.query_encoder"):
        encoder = query_encoder.build(embedder._model, min_cosine=0.999999)  # int8 cannot be this close
    assert isinstance(encoder, query_encoder.QueryEncoder)
    assert "not int8" in caplog.text
    for question, expected in zip(QUESTIONS + [""], library(embedder, QUESTIONS + [""])):
        assert np.abs(encoder.encode(question) - expected).max() < query_encoder.TOLERANCE


def test_the_embedder_answers_new_questions_through_the_checked_encoder(embedder) -> None:
    embedder.prepare_questions()
    assert embedder._question_encoder is not None
    question = "Which ambassador reported on the Quemoy shelling? (query-encoder test)"
    expected = library(embedder, [question])[0]
    vector = embedder.encode_query(question)
    assert float(vector @ expected) >= query_encoder.MIN_COSINE
    assert np.array_equal(vector, embedder._question_encoder.encode(question))



@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Iterator[Path]:
    """An empty encoder cache for this module (one export here, one more after the damage test)."""
    folder = tmp_path_factory.mktemp("encoder-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARCHIVE_QA_CACHE_DIR", str(folder))
        yield folder


def test_the_int8_file_is_exported_once_into_the_cache_and_reused(embedder, cache) -> None:
    first = query_encoder.build(embedder._model)
    assert isinstance(first, query_encoder.OnnxEncoder)
    [folder] = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert {query_encoder.INT8_FILE, query_encoder.PROBES_FILE} <= {p.name for p in folder.iterdir()}
    assert not [p for p in cache.iterdir() if p.name.startswith(".export-")], "the scratch folder was renamed"
    saved = onnx.load(str(folder / query_encoder.INT8_FILE)).graph.node
    assert [node.op_type for node in saved].count("MultiHeadAttention") == 6, "servers get the rewritten attention"
    assert not [node for node in saved if node.op_type == "Softmax"]
    made = (folder / query_encoder.INT8_FILE).stat().st_mtime_ns
    second = query_encoder.build(embedder._model)
    assert (folder / query_encoder.INT8_FILE).stat().st_mtime_ns == made, "the second build exported again"
    assert np.array_equal(first.encode(QUESTIONS[0]), second.encode(QUESTIONS[0]))


def test_a_damaged_cached_file_is_exported_again(embedder, cache, caplog) -> None:
    query_encoder.build(embedder._model)
    [folder] = [p for p in cache.iterdir() if not p.name.startswith(".")]
    (folder / query_encoder.INT8_FILE).write_bytes(b"not a model")
    with caplog.at_level("WARNING", logger="archive_qa.query_encoder"):
        encoder = query_encoder.build(embedder._model)
    assert isinstance(encoder, query_encoder.OnnxEncoder)
    assert "exporting it again" in caplog.text and str(folder) in caplog.text
    expected = library(embedder, [QUESTIONS[2]])[0]
    assert float(encoder.encode(QUESTIONS[2]) @ expected) >= query_encoder.MIN_COSINE


@pytest.fixture(scope="module")
def exported(embedder, tmp_path_factory) -> tuple[Path, Path]:
    """The model's fp32 export and its plain int8 graph (no rewrite), made once for the module."""
    folder = tmp_path_factory.mktemp("export")
    fp32 = folder / "model.onnx"
    query_encoder._export(embedder._model, fp32)
    return fp32, query_encoder._quantised(fp32, query_encoder.FP32_NODES)


def pooled(model: onnx.ModelProto | Path, embedder, texts: list[str]) -> list[np.ndarray]:
    """The graph's mean-pooled output for each text, at one thread."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    session = onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    tokens = query_encoder.token_ids(embedder._model)
    return [session.run(None, {"input_ids": tokens(text)})[0] for text in texts]


def test_the_attention_rewrite_keeps_the_fp32_exports_vectors(embedder, exported) -> None:
    fp32, _ = exported
    model = onnx.load(str(fp32))
    assert encoder_graph.rewrite(model, 12) == 6
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("MultiHeadAttention") == 6 and "Softmax" not in kinds and "Transpose" not in kinds
    assert len(kinds) < len(onnx.load(str(fp32)).graph.node) / 2
    onnx.checker.check_model(model)
    for want, got in zip(pooled(fp32, embedder, QUESTIONS), pooled(model, embedder, QUESTIONS)):
        assert np.abs(want - got).max() < query_encoder.TOLERANCE


def test_packed_projections_give_the_int8_graphs_vectors_bit_for_bit(embedder, exported) -> None:
    _, int8 = exported
    model = onnx.load(str(int8))
    assert encoder_graph.rewrite(model, 12, heads=False) == 6
    before = [node.op_type for node in onnx.load(str(int8)).graph.node].count("MatMulInteger")
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("Split") == 6 and kinds.count("MatMulInteger") == before - 2 * 6  # 3 products a layer: 1
    for want, got in zip(pooled(int8, embedder, QUESTIONS), pooled(model, embedder, QUESTIONS)):
        assert np.array_equal(want, got)


def test_a_layer_the_rewrite_does_not_recognise_is_left_as_exported(embedder, exported) -> None:
    fp32, _ = exported
    model = onnx.load(str(fp32))
    for node in model.graph.node:
        if node.name == "/body/encoder/layer.3/attention/self/key/Add":
            node.name = "/body/encoder/layer.3/attention/self/k_proj/Add"  # another architecture's naming
    assert encoder_graph.rewrite(model, 12) == 5
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("MultiHeadAttention") == 5 and kinds.count("Softmax") == 1
    for want, got in zip(pooled(fp32, embedder, QUESTIONS[:2]), pooled(model, embedder, QUESTIONS[:2])):
        assert np.abs(want - got).max() < query_encoder.TOLERANCE


def test_a_rewrite_that_would_change_the_vectors_is_not_used(embedder, exported, monkeypatch, caplog) -> None:
    fp32, _ = exported
    assert query_encoder._attention_heads(embedder._model, fp32) == 12
    monkeypatch.setattr(embedder._model[0].auto_model.config, "num_attention_heads", 24)  # a config that lies
    with caplog.at_level("WARNING", logger="archive_qa.query_encoder"):
        assert query_encoder._attention_heads(embedder._model, fp32) is None  # 24 heads of 16: other vectors
    assert "attention left as exported" in caplog.text


def test_an_onnx_runtime_without_the_attention_operator_keeps_the_exported_graph(embedder, exported, monkeypatch,
                                                                                 caplog) -> None:
    fp32, _ = exported
    wrong = encoder_graph.rewrite

    def unknown_operator(model, heads, **kw):
        count = wrong(model, heads, **kw)
        for node in model.graph.node:
            if node.op_type == "MultiHeadAttention":
                node.op_type = "MultiHeadAttentionFromTheFuture"
        return count

    monkeypatch.setattr(encoder_graph, "rewrite", unknown_operator)
    with caplog.at_level("WARNING", logger="archive_qa.query_encoder"):
        assert query_encoder._attention_heads(embedder._model, fp32) is None
    assert "attention left as exported" in caplog.text
