"""Compressed responses (flask-compress: brotli or gzip) and long cache lifetimes for fingerprinted files.

Callback responses, pages, JS and CSS are compressed when larger than `COMPRESS_MIN_BYTES`. JS and
CSS never change under their URL (Dash's bundles carry a version fingerprint, assets `?m=<mtime>`),
so each web worker compresses each one once and keeps the bytes in a bounded in-memory cache, and
browsers may keep them for a year.
"""
from __future__ import annotations

from flask import Flask, Request, Response, request
from flask_compress import Compress

from services.platform import defaults

_STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
_FONTS = (".woff2", ".woff")
_MIMETYPES = ["text/html", "text/css", "text/plain", "application/json", "application/javascript",
              "text/javascript", "image/svg+xml"]


def _fingerprinted(req: Request) -> bool:
    """Return True for a GET of a file whose URL changes whenever its content does."""
    if req.method != "GET" or not req.path.startswith(_STATIC_PREFIXES):
        return False
    # the vendored icon CSS names its font files with their content hash as the query (`?e348...`)
    hashed_font = req.path.endswith(_FONTS) and len(req.query_string) >= 16
    return "m" in req.args or req.path.startswith("/_dash-component-suites/") or hashed_font


def _cache_key(req: Request) -> str:
    """Return the cache key of a fingerprinted file, "" for everything else (never cached)."""
    return req.full_path if _fingerprinted(req) else ""


class StaticCache:
    """flask-compress's cache backend: keeps compressed fingerprinted files, ignores the rest."""

    def __init__(self, max_bytes: int = defaults.COMPRESS_CACHE_MAX_BYTES):
        self.max_bytes = max_bytes
        self.data: dict[str, bytes] = {}
        self.size = 0

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        # flask-compress keys are "<algorithm>;<our key>": an empty key of ours means "do not cache"
        if key.endswith(";") or key in self.data or self.size + len(value) > self.max_bytes:
            return
        self.data[key] = value
        self.size += len(value)


def _prepare_static(response: Response) -> Response:
    """Mark fingerprinted files cacheable for a year; buffer small static files so they are compressed once."""
    if not _fingerprinted(request) or response.status_code != 200:
        return response
    response.cache_control.no_cache = None  # send_file's default: revalidate every time
    response.cache_control.public = True
    response.cache_control.max_age = defaults.STATIC_MAX_AGE_S
    response.cache_control.immutable = True
    if response.is_streamed and response.direct_passthrough:  # send_file: read it so the cache can hold it
        response.direct_passthrough = False
        response.make_sequence()
    return response


def init_compression(server: Flask) -> Compress:
    """Compress `server`'s responses; call after the other after_request hooks are registered."""
    server.config.update(
        COMPRESS_MIMETYPES=_MIMETYPES,
        COMPRESS_MIN_SIZE=defaults.COMPRESS_MIN_BYTES,
        COMPRESS_ALGORITHM=["br", "gzip"],  # every browser takes one of these; zstd adds nothing here
        COMPRESS_BR_LEVEL=defaults.COMPRESS_BR_LEVEL,
        COMPRESS_CACHE_BACKEND=StaticCache,
        COMPRESS_CACHE_KEY=_cache_key,
        COMPRESS_STREAMS=False,  # downloads and log streams stay as sent (sizes, resumable); assets are buffered
    )
    compress = Compress(server)
    # after_request hooks run last-registered first: this one prepares the response before compression
    server.after_request(_prepare_static)
    return compress
