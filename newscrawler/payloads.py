"""Stored raw pages (the ``payloads`` table): zstd, with an earlier page of the same site as dictionary.

Pages of one site share most of their bytes (head, scripts, navigation, footer), so a page
compresses far better against another page of its site than alone; a dictionary trained with
zstd's ZDICT needs tens of pages of a site before it helps, where a raw-content dictionary (any
bytes, zstd's ``DICT_TYPE_RAWCONTENT``) works from a site's second page on. So the archive keeps,
per site, one stored page as its dictionary (``site_dictionaries``), itself stored without one, so
reading any payload takes at most one more payload. The figures behind these choices are measured
by ``benchmarks/storage.py`` (see ``benchmarks/README.md``).

Stored forms (``payloads.compression``): ``zstd`` (with or without ``payloads.dictionary``), and
``zlib`` (level 6, archives written before schema 4), both readable forever.
"""

from __future__ import annotations

import collections
import sqlite3
import zlib
from collections.abc import Callable
from typing import Any

import sqlite_utils
import zstandard

from newscrawler.changes import payload_digest
from newscrawler.dates import utcnow_iso

#: zstd level for raw HTML: level 3, zstd's default (benchmarks/storage.py compares it with zlib 6).
ZSTD_LEVEL = 3
#: A page larger than this never becomes a site's dictionary (bytes): zstd level 3 looks back
#: about 2 MiB, and a dictionary's memory is held once per cached site.
DICTIONARY_MAX_BYTES = 1 << 20


class PayloadCodec:
    """Compresses and decompresses payloads; keeps the prepared dictionaries of recent sites.

    :param cache_size: how many dictionaries to keep prepared for each direction (each costs
        about 2 MB for a 200 KB page: zstd's hash tables for the dictionary); a miss prepares
        the dictionary anew, which costs little next to the compression.

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


class Payloads:
    """The ``payloads`` table of one archive connection: raw pages stored once per digest.

    :param db: the archive's connection (writes join its open transaction).
    """

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.codec = PayloadCodec()
        self._has_dictionaries: bool | None = None

    def row(self, digest: str) -> dict[str, Any] | None:
        """The stored row of a digest: ``{"content_type", "compression", "dictionary", "data"}``, or None."""
        if self._has_dictionaries is None:  # the column came with schema 4; read-only opens do not migrate
            self._has_dictionaries = "dictionary" in self.db["payloads"].columns_dict
        dictionary = "dictionary" if self._has_dictionaries else "NULL AS dictionary"
        cursor = self.db.execute(
            f"SELECT content_type, compression, {dictionary}, data FROM payloads WHERE digest = ?", [digest])
        found = cursor.fetchone()
        return dict(zip(("content_type", "compression", "dictionary", "data"), found, strict=True)) if found else None

    def get(self, digest: str) -> bytes | None:
        """The raw bytes stored under ``digest`` (decompressed), or None when there are none.

        :raises sqlite3.IntegrityError: when the payload's dictionary is missing.
        :raises zstandard.ZstdError, zlib.error: when the stored data is corrupt.
        """
        row = self.row(digest)
        return self.unpacked(row) if row is not None else None

    def unpacked(self, row: dict[str, Any]) -> bytes:
        """The raw bytes of a :meth:`row`."""
        return self.codec.decompress(row["data"], row["compression"], row["dictionary"], self._dictionary)

    def _dictionary(self, digest: str) -> bytes:
        """The raw bytes of a dictionary payload, itself always stored without one (one hop at most)."""
        row = self.row(digest)
        if row is None or row["dictionary"] is not None:
            raise sqlite3.IntegrityError(f"payload dictionary {digest} is missing or needs a dictionary itself")
        return self.codec.decompress(row["data"], row["compression"], None, self._dictionary)

    def store(self, body: bytes | None, content_type: str | None, site: str,
              dictionary_candidate: bool = False) -> str | None:
        """Store ``body`` once per digest, zstd against ``site``'s dictionary; returns the digest
        (:func:`newscrawler.changes.payload_digest`), None for no body.

        A site without a dictionary gets one from the first ``dictionary_candidate`` body stored (an
        article page of up to :data:`DICTIONARY_MAX_BYTES`, not a wall or error page kept for
        review), itself stored without a dictionary.
        """
        if not body:
            return None
        digest = payload_digest(body)
        if self.db.execute("SELECT 1 FROM payloads WHERE digest = ?", [digest]).fetchone():
            return digest
        found = self.db.execute("SELECT payload_digest FROM site_dictionaries WHERE site = ?", [site]).fetchone()
        dictionary = found[0] if found else None
        self.db["payloads"].insert({
            "digest": digest, "content_type": content_type, "size": len(body), "compression": "zstd",
            "dictionary": dictionary, "data": self.codec.compress(body, dictionary, self._dictionary)})
        if dictionary is None and dictionary_candidate and len(body) <= DICTIONARY_MAX_BYTES:
            self.db["site_dictionaries"].insert(
                {"site": site, "payload_digest": digest, "created_at": utcnow_iso()}, ignore=True)
        return digest
