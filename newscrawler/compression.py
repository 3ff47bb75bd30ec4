"""Compression of stored raw HTML: zstd, with an earlier page of the same site as the dictionary.

Pages of one site share most of their bytes (head, scripts, navigation, footer), so a page
compresses far better against another page of its site than alone. Measured on the 121 corpus
pages (benchmarks/storage.py): zlib level 6 stores 19.2% of the bytes at 6.5 ms a page, zstd
level 3 19.0% at 1.2 ms, and zstd level 3 with the site's other page as a raw-content dictionary
4.0% (48 pages of 2-page sites). A dictionary trained with zstd's ZDICT needs tens of pages of a
site before it helps; a raw-content dictionary (any bytes, zstd's ``DICT_TYPE_RAWCONTENT``) works
from a site's second page on. So the archive keeps, per site, one stored page as its dictionary
(:class:`newscrawler.store.Archive` chooses it and stores it without a dictionary, so reading any
payload takes at most one more payload).

Stored forms (``payloads.compression``): ``zstd`` (with or without ``payloads.dictionary``), and
``zlib`` (level 6, archives written before schema 4), both readable forever.
"""

from __future__ import annotations

import collections
import zlib
from collections.abc import Callable

import zstandard

#: zstd level for raw HTML: level 3 (zstd's default) gives zlib 6's ratio at a fifth of its CPU.
ZSTD_LEVEL = 3
#: A page larger than this never becomes a site's dictionary (bytes): zstd level 3 looks back
#: about 2 MiB, and a dictionary's memory is held once per cached site.
DICTIONARY_MAX_BYTES = 1 << 20


class PayloadCodec:
    """Compresses and decompresses payloads; keeps the prepared dictionaries of recent sites.

    :param cache_size: how many dictionaries to keep prepared for each direction (each costs
        about 2 MB for a 200 KB page: zstd's hash tables for the dictionary). A miss is cheap:
        compressing a page against a dictionary prepared anew cost 1.6 ms against 1.35 ms.

    Dictionaries are named by the digest of the payload that holds them and loaded through a
    callable ``load(digest) -> bytes`` only when not cached. Not thread-safe: one per connection.
    """

    def __init__(self, cache_size: int = 8):
        self.cache_size = cache_size
        self._plain = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self._plain_decompressor = zstandard.ZstdDecompressor()
        self._compressors: collections.OrderedDict[str, zstandard.ZstdCompressor] = collections.OrderedDict()
        self._decompressors: collections.OrderedDict[str, zstandard.ZstdDecompressor] = collections.OrderedDict()

    def compress(self, data: bytes, dictionary: str | None, load: Callable[[str], bytes]) -> bytes:
        """``data`` as a zstd frame, against the dictionary payload ``dictionary`` when given.

        :raises zstandard.ZstdError: when zstd fails (out of memory).
        """
        if dictionary is None:
            return self._plain.compress(data)
        compressor = self._cached(self._compressors, dictionary, lambda raw: zstandard.ZstdCompressor(
            level=ZSTD_LEVEL, dict_data=_raw_dictionary(raw)), load)
        return compressor.compress(data)

    def decompress(self, data: bytes, compression: str, dictionary: str | None,
                   load: Callable[[str], bytes]) -> bytes:
        """The bytes a stored payload holds.

        :raises ValueError: for an unknown ``compression``.
        :raises zstandard.ZstdError, zlib.error: when ``data`` is corrupt.
        """
        if compression == "zlib":
            return zlib.decompress(data)
        if compression == "identity":
            return data
        if compression != "zstd":
            raise ValueError(f"unknown payload compression {compression!r}")
        if dictionary is None:
            return self._plain_decompressor.decompress(data)
        decompressor = self._cached(self._decompressors, dictionary, lambda raw: zstandard.ZstdDecompressor(
            dict_data=_raw_dictionary(raw)), load)
        return decompressor.decompress(data)

    def _cached(self, cache: collections.OrderedDict, key: str, make: Callable[[bytes], object],
                load: Callable[[str], bytes]) -> object:
        found = cache.get(key)
        if found is None:
            found = cache[key] = make(load(key))
            while len(cache) > self.cache_size:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return found


def _raw_dictionary(raw: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(raw, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
