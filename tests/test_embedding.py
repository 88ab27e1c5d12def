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
