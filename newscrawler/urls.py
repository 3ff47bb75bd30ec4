"""URL canonicalisation: the key an article is archived under, and which site it belongs to."""

from __future__ import annotations

import functools
import ipaddress
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan.clean import TRACKERS_RE
from tld import get_fld
from tld.exceptions import TldBadUrl, TldDomainNotFound


def clean_url(url: str) -> str:
    """The fetched URL as an article key: tracking parameters and the fragment dropped.

    Scheme and host are lower-cased, a default port is dropped, other query parameters keep
    their order and values. Tracking parameters are those matched by courlan's ``TRACKERS_RE``
    (utm_*, fbclid, gclid, mc_cid, ...). Idempotent.

    :raises ValueError: when ``url`` is not an absolute http(s) URL.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKERS_RE.search(k.lower())]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def registered_domain(url: str) -> str:
    """The registered domain of a URL by the Public Suffix List (``news.bbc.co.uk`` -> ``bbc.co.uk``).

    IP addresses and hosts without a public suffix (``localhost``) are their own domain.
    """
    return _registered_domain_of_host((urlsplit(url).hostname or "").lower().rstrip("."))


@functools.lru_cache(maxsize=4096)
def _registered_domain_of_host(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        return get_fld(host, fix_protocol=True)
    except (TldDomainNotFound, TldBadUrl, ValueError):
        return host


def article_key(fetched_url: str, canonical_url: str | None) -> str:
    """The URL an article is archived under.

    The page's ``rel=canonical`` becomes the key only when it is an http(s) URL on the same
    registered domain as the fetched URL (redirects already followed); otherwise the cleaned
    fetched URL is the key, so a page can never write into another site's history.

    :raises ValueError: when ``fetched_url`` is not an absolute http(s) URL.
    """
    fetched = clean_url(fetched_url)
    if canonical_url:
        try:
            canonical = clean_url(canonical_url)
        except ValueError:
            return fetched
        if registered_domain(canonical) == registered_domain(fetched):
            return canonical
    return fetched
