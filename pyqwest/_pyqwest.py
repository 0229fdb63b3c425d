"""The private module names users' tests import from the original (spec §1.0): re-exports."""

from ._decompress import _BrotliDecompressor, _ZstdDecompressor
from ._sync_timeout import get_sync_timeout, set_sync_timeout
from .middleware.retry._backoff import _Backoff

__all__ = [
    "_Backoff", "_BrotliDecompressor", "_ZstdDecompressor", "get_sync_timeout", "set_sync_timeout",
]
