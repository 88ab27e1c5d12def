"""Native memory of a long-running server: fewer malloc arenas, and freed pages handed back now and then.

Python-level caches are bounded (LRUs in ranking/ and the embedder); what grew in `bench/load.py` was glibc
keeping freed pages of the encoder's variable-size tensors in one arena per thread. Two arenas and a
`malloc_trim` every half minute keep the server near its working set (see README, benchmarks).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading

from . import settings

log = logging.getLogger(__name__)

ARENAS = 2  # glibc malloc arenas (default: 8 per core, one per thread that contends)
TRIM_EVERY_S = 30.0  # seconds between malloc_trim calls
_M_ARENA_MAX = -8  # mallopt parameter, from glibc's malloc.h

_started = threading.Lock()
_trimmer: threading.Thread | None = None


def _glibc() -> ctypes.CDLL | None:
    """The C library where it is glibc (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - absent outside glibc (musl)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def manage(arenas: int = ARENAS, every_s: float = TRIM_EVERY_S) -> bool:
    """Limit malloc arenas and start one background trimmer per process; False where not glibc or turned off.

    ARCHIVE_QA_MALLOC_TRIM=0 turns this off (MALLOC_ARENA_MAX, where set, still wins for the arenas).
    """
    global _trimmer
    if not settings.get("malloc_trim"):
        return False
    libc = _glibc()
    if libc is None:
        return False
    with _started:
        if _trimmer is not None:
            return True
        if "MALLOC_ARENA_MAX" not in os.environ:
            libc.mallopt(_M_ARENA_MAX, arenas)
        stop = threading.Event()

        def trim() -> None:
            while not stop.wait(every_s):
                libc.malloc_trim(0)

        _trimmer = threading.Thread(target=trim, name="malloc-trim", daemon=True)
        _trimmer.start()
    log.info("malloc: %d arenas, trimmed every %.0f s", arenas, every_s)
    return True
