"""The embedder: one shared model per process, and the accelerator path's vectors match the CPU loop's."""

from __future__ import annotations

import numpy as np

from archive_qa.embedding import get_embedder, pick_device

TEXTS = [
    "Stalin on neutral countries.",
    "Mao to Stalin about the armistice talks, the demarcation line at the 38th parallel, and prisoners of war "
    "held on both sides, with a long list of conditions for the Chinese People's Volunteers.",
    "Quemoy.",
    "The Ambassador in France (Caffery) to the Acting Secretary of State on Indochina and the Bay D'Along accords.",
    "",
]


def test_one_model_instance_per_resolved_device(embedder) -> None:
    assert get_embedder(embedder.name, pick_device("auto")) is embedder
    assert get_embedder(embedder.name, "auto", 32) is embedder
    assert embedder.batch_size == 32
    get_embedder(embedder.name, "auto", 64)


def test_pipelined_batches_give_the_same_vectors_in_input_order(embedder) -> None:
    plain = embedder._model.encode(TEXTS, batch_size=2, normalize_embeddings=True, convert_to_numpy=True)
    piped = embedder.encode_pipelined(TEXTS, batch_size=2)
    assert piped.shape == (len(TEXTS), embedder.dimension) and piped.dtype == np.float32
    assert np.allclose(piped, plain, atol=1e-5)
    assert np.allclose(np.linalg.norm(piped, axis=1), 1.0, atol=1e-5)


QUESTIONS = ["What did Stalin say about neutral countries?", "1952", "",
             "armistice " * 400]  # longer than the model's 256 tokens: truncated as the library does


def test_traced_question_encoder_gives_the_library_vectors(embedder) -> None:
    from archive_qa import query_encoder

    encoder = query_encoder.build(embedder._model, int8=False)
    assert encoder is not None, "the MiniLM stack is Transformer, mean Pooling, Normalize: it must trace"
    library = embedder._model.encode(QUESTIONS, normalize_embeddings=True, convert_to_numpy=True)
    for question, expected in zip(QUESTIONS, library):
        vector = encoder.encode(question)
        assert vector.shape == (embedder.dimension,) and vector.dtype == np.float32
        assert np.abs(vector - expected).max() < query_encoder.TOLERANCE


def test_embedder_answers_new_questions_through_the_traced_encoder(embedder) -> None:
    from archive_qa import query_encoder

    embedder.prepare_questions()
    assert embedder._question_encoder is not None
    question = "Which ambassador reported on the Quemoy shelling? (traced-encoder test)"
    expected = embedder._model.encode([question], normalize_embeddings=True, convert_to_numpy=True)[0]
    assert float(embedder.encode_query(question) @ expected) >= query_encoder.MIN_COSINE  # int8 by default
    assert np.array_equal(embedder._cache[question], embedder.encode_query(question))  # and cached


def test_stacks_it_cannot_trace_stay_with_the_library(embedder) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling

    from archive_qa import query_encoder

    cls_pooled = SentenceTransformer(modules=[embedder._model[0], Pooling(embedder.dimension, pooling_mode="cls")],
                                     device="cpu")
    assert query_encoder.build(cls_pooled) is None


def test_question_encoded_beside_the_caller_gives_the_same_vector(embedder) -> None:
    question = "Who negotiated the prisoner exchange at Panmunjom? (future test)"
    pending = embedder.encode_query_soon(question)
    vector = pending.result(timeout=60)
    assert np.array_equal(vector, embedder.encode_query(question))
    again = embedder.encode_query_soon(question)
    assert again.done() and np.array_equal(again.result(), vector)  # cached: no trip to the pool
