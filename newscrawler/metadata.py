"""Article metadata decisions: which headline, which authors, which publication date (pure functions).

extraction.py gathers the candidates (JSON-LD, <meta>, <h1>, <title>, trafilatura's guesses,
sitemap and syndication-feed hints); this module decides among them. Nothing here parses HTML.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from newscrawler.dates import local_day, parse_date

# Separators between a headline and its decorations in <title> and og:title: "Headline | Site",
# "Section | Headline - Site", "Headline – Site", "Site · Headline", "Headline :: Site".
_SEPARATOR = re.compile(r"\s+(?:\||-|–|—|·|•|»|::|/)\s+")
# Words of a publisher's name that say nothing about which publisher it is.
_NAME_NOISE = {"the", "www", "com", "co", "uk", "org", "net", "news", "online", "de", "fr", "es", "it", "ru",
               "br", "in", "magazine", "mag", "blog", "daily", "media", "international"}


def fold(text: str | None) -> str:
    """Text for comparing metadata: NFKC, case folded, curly quotes and dashes made plain, spaces single."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = re.sub(r"[\u2018\u2019\u201a\u201b`´]", "'", text)
    text = re.sub(r"[\u201c\u201d\u201e\u00ab\u00bb]", '"', text)
    text = re.sub(r"[\u2010-\u2015]", "-", text)
    return re.sub(r"\s+", " ", text).strip()


def _letters(text: str) -> str:
    """Only the letters and digits of ``text``, folded: "Cleveland.com" and "cleveland com" meet."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def site_names(url: str, names: Iterable[str | None]) -> list[str]:
    """The names a site goes by: the ``names`` given (og:site_name, the JSON-LD publisher,
    application-name) and its host's labels ("www.cleveland.com" gives "cleveland.com" and
    "cleveland"), as letter-and-digit strings (see :func:`_letters`), longest first."""
    out = {_letters(n) for n in names if n and len(_letters(n)) >= 2}
    host = (urlsplit(url).hostname or "").lower()
    labels = [label for label in host.split(".") if label not in ("www", "m", "amp", "edition")]
    if labels:
        out.add(_letters(".".join(labels)))
        out |= {_letters(label) for label in labels[:-1] if len(label) >= 3 and label not in _NAME_NOISE}
    return sorted((n for n in out if n), key=len, reverse=True)


def is_site_name(text: str, sites: Sequence[str]) -> bool:
    """Whether ``text`` names the site: its letters equal a site name or lie inside one, or a
    site name is a run of its words, or most of one, with at most 12 letters more ("CBS Detroit",
    "Telegraph Sport", "India Post News Weekly", "Practical Horseman" for practicalhorsemanmag.com)."""
    letters = _letters(text)
    if not letters:
        return True
    words = [_letters(w) for w in fold(text).split()]
    runs = {"".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
    for site in sites:
        if letters == site or (len(letters) >= 2 and letters in site and len(letters) * 2 >= len(site)):
            return True
        if len(letters) - len(site) <= 12 and (site in runs or (len(site) >= 5 and any(
                len(run) >= 5 and run in site and len(run) * 5 >= len(site) * 3 for run in runs))):
            return True
    return False


def _without_site_tail(name: str, sites: Sequence[str]) -> str:
    """``name`` without a site name run on after it ("Finian Cunningham Sputnik International")."""
    words = name.split()
    for k in range(min(3, len(words) - 2), 0, -1):
        if is_site_name(" ".join(words[-k:]), sites) and not is_site_name(" ".join(words[:-k]), sites):
            return " ".join(words[:-k])
    return name


def strip_decorations(title: str, sites: Sequence[str]) -> str:
    """A <title> or og:title without the site's name and section labels around the headline.

    Segments split off by a separator (" | ", " - ", " – ", " — ", " · ", " :: ", " » ") are
    dropped from either end while they name the site (:func:`is_site_name`); after that, short
    segments (three words or fewer) at the end of a "|"-separated title are section labels
    ("... | World | News | Express.co.uk") and dropped too, and so is a short first segment before
    " | " ("Opinion | Headline"). The headline itself is never emptied: the longest segment stays.
    """
    title = re.sub(r"\s+", " ", title or "").strip()
    parts = _SEPARATOR.split(title)
    seps = _SEPARATOR.findall(title)
    if len(parts) == 1:
        return title
    named = [is_site_name(part, sites) for part in parts]
    longest = max(range(len(parts)), key=lambda i: (not named[i], len(parts[i])))
    start, end = 0, len(parts)
    while end - 1 > longest and named[end - 1]:
        end -= 1
    while start < longest and named[start]:
        start += 1
    if end < len(parts):  # the site's name was at the end: short "|" segments before it are sections
        while end - 1 > longest and seps[end - 2].strip() == "|" and len(parts[end - 1].split()) <= 3:
            end -= 1
    if start < longest and seps[start].strip() == "|" and len(parts[start].split()) <= 2:
        start += 1  # "Opinion | Headline"
    kept = parts[start:end]
    out = kept[0]
    for i, part in enumerate(kept[1:], start=start):
        out += seps[i] + part
    return out


def choose_headline(h1s: Sequence[str], candidates: Sequence[str | None], sites: Sequence[str]) -> str:
    """The article's headline, as the page prints it over the article.

    ``h1s`` are the page's <h1> texts in document order; ``candidates`` the headlines its metadata
    gives, best first (JSON-LD ``headline``, ``og:title``, ``twitter:title``, trafilatura's title,
    ``<title>``). An <h1> wins when it agrees with a candidate (equal to it, to it undecorated, or
    contained in it as most of its text), or when it is the page's only <h1> of three words or more
    that does not name the site (newsrooms write the SEO title apart from the printed one);
    otherwise the first candidate, undecorated (:func:`strip_decorations`). "" when none.
    """
    heads = [re.sub(r"\s+", " ", h).strip() for h in h1s]
    heads = [h for h in heads if h and not is_site_name(h, sites)]
    cands = [re.sub(r"\s+", " ", c).strip() for c in candidates if c and c.strip()]
    stripped = [strip_decorations(c, sites) for c in cands]
    for head in heads:
        fh = fold(head)
        for cand, bare in zip(cands, stripped, strict=True):
            fc = fold(cand)
            if fh in (fc, fold(bare)) or (len(fh) >= 12 and fh in fc and len(fh) * 2 >= len(fold(bare))):
                return head
    long_heads = [h for h in heads if len(h.split()) >= 3]
    if len(long_heads) == 1 and len(set(map(fold, heads))) <= 2:
        return long_heads[0]
    return stripped[0] if stripped else (heads[0] if heads else "")


# Words that open a byline: English, German, French, Spanish, Portuguese, Italian, Dutch, Swedish,
# Russian ("Текст:"), and the labels "Text:", "Author:".
_BYLINE_PREFIX = re.compile(
    r"^(?:(?:posted|written|reported|analysis|story|words|photos?|text|interview)\s+by|by|von|par|por|de|di|"
    r"door|av|af|text|texto|testo|texte|текст|автор|autor|autorin|auteur|autore|author|"
    r"reporting by)\s*[:\-–]?\s+",
    re.IGNORECASE)
# Roles and credentials printed beside a name (after a comma or at its end).
_ROLE = re.compile(
    r"\b(?:(?:senior|chief|staff|contributing|special|deputy|associate|managing|executive|political|"
    r"business|sports?|science|health|tech(?:nology)?|entertainment|la|national|foreign|white house|"
    r"washington|breaking news|digital|online|editorial|news)\s+)*"
    r"(?:writer|reporter|correspondent|editor(?:-at-large)?|editor at large|contributor|columnist|"
    r"producer|journalist|analyst|critic|intern|staff|news desk|desk|team|wire services?|bureau|"
    r"redaktion|redakteur(?:in)?|korrespondent(?:in)?|rédaction|rédacteur|redacción|redação|redazione)s?\b",
    re.IGNORECASE)
# A role glued to the name by markup that had no space between them ("Meg JamesStaff Writer").
_GLUED_ROLE = re.compile(r"(?<=[a-z])(?=(?:Senior |Staff |Chief |Contributing |Business |Special )?"
                         r"(?:Writer|Reporter|Correspondent|Editor|Contributor|Columnist)\b)")
_CREDENTIAL = re.compile(r"^(?:ms|ma|mba|rd|rdn|ld|ldn|phd|ph\.d\.|md|m\.d\.|dr|jd|cpt|cscs|np|rn|do|mph|msc)\.?$",
                         re.IGNORECASE)
# Accounts content systems put where a person's name belongs.
_PLACEHOLDER = {"admin", "administrator", "author", "guest", "editor", "editors", "staff", "unknown",
                "webmaster", "user", "anonymous", "redaktion", "redazione", "rédaction", "none", "null"}
# Where a byline string runs on into its date line.
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_DATE_TAIL = re.compile(
    r"\s*(?:\||•|·|—|–|-)?\s*\b(?:published|updated|posted|modified|on|le|am|el)\b.*$"
    rf"|\s+{_WEEKDAY}\b.*$|\s+{_MONTH}\s+\d.*$|\s+(?:january|february|august|september|october|november|december)$"
    r"|\s+\d{1,2}[./]\d{1,2}[./]\d{2,4}.*$|\s+\d+\s+(?:hours?|minutes?|days?)\s+ago.*$",
    re.IGNORECASE)
_DATE_WORD = re.compile(rf"^(?:{_MONTH}|{_WEEKDAY})$", re.IGNORECASE)
# Agencies named after a reporter, as a wire byline prints them ("JILL LAWLESS Associated Press").
_AGENCY_TAIL = re.compile(r"\s*,?\s*\b(?:the\s+)?(?:associated press|ap|reuters|afp|dpa|ansa|efe|pti|ians|"
                          r"bloomberg|cnn(?:\s+\w+)?)$", re.IGNORECASE)


def clean_authors(values: Iterable[str | None], sites: Sequence[str]) -> list[str]:
    """People (or a wire agency) named by bylines, without "By", roles, credentials or the outlet.

    Each value is one byline as found (JSON-LD ``author`` names, a <meta> author, trafilatura's
    ";"-joined guess); names are split at ";", " and ", " & ", " und ", " et ", " y ", " e " and at
    commas. Left out: prefixes ("By", "Von", "Par", "Por", "Posted by", "Text:", "Текст:"),
    roles ("Staff Writer", "AP Sports Writer", "Editor-at-large"), credentials ("MS", "RDN"),
    the date line a byline runs into ("... Published 11:11 PM EST"), URLs, placeholders ("admin"),
    names of the site itself (:func:`is_site_name`: "BBC News", "Cleveland.com") and, after a
    person's name, an affiliation of one word ("Victor Tangermann, Futurism"). Names in capitals
    are title-cased ("GREG BEACHAM" -> "Greg Beacham"). Order kept, duplicates dropped (folded).
    """
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        if not value or not isinstance(value, str):
            continue
        value = re.sub(r"\s+", " ", value).strip()
        if re.match(r"https?://", value):
            continue
        found: list[str] = []
        for piece in re.split(r"\s*;\s*|\s+(?:and|&|und|et|y|e|и)\s+", value, flags=re.IGNORECASE):
            parts = [p.strip() for p in piece.split(",")]
            names: list[str] = []
            for part in parts:
                name = _clean_name(part)
                name = _without_site_tail(name, sites) if name else None
                if name is None or is_site_name(name, sites):
                    continue
                if names and " " not in name:
                    continue  # "Name, Outlet": an affiliation
                names.append(name)
            found += names
        if any(" " in name for name in found):  # "Jane Doe; Outlet": a one-word outlet beside a person
            found = [name for name in found if " " in name]
        for name in found:
            key = fold(name)
            if key not in seen:
                seen.add(key)
                out.append(name)
    return out


def _clean_name(text: str) -> str | None:
    """One name from one comma-separated part of a byline, or None when nothing of a name is left."""
    text = text.strip(" .:|•·-–—")
    for _ in range(2):
        text = _BYLINE_PREFIX.sub("", text).strip()
    text = _DATE_TAIL.sub("", text).strip(" .:|•·-–—")
    text = re.sub(r"\s*@\w+.*$", "", text)  # a handle after the name
    text = _GLUED_ROLE.sub(" ", text)
    text = _ROLE.sub("", text).strip(" .:|•·-–—,")
    if _AGENCY_TAIL.search(text) and len(_AGENCY_TAIL.sub("", text).split()) >= 2:
        text = _AGENCY_TAIL.sub("", text).strip(" ,")
    text = re.sub(r"\s+", " ", text).strip()
    if (not text or _CREDENTIAL.match(text) or _DATE_WORD.match(text) or text.casefold() in _PLACEHOLDER
            or not any(c.isalpha() for c in text)):
        return None
    if len(_letters(text)) < 3 or len(text) > 60 or len(text.split()) > 5 or re.search(r"[<>{}=]|\d{5,}", text):
        return None  # a sentence, a URL, markup: not a name
    if text.isupper() and " " in text and text.isascii():
        text = text.title()
    return text


def is_placeholder_date(raw: str | None) -> bool:
    """Whether a date string is a system's empty value, not a date: year 1, 1900 or the Unix epoch
    (``0001-01-01T00:00:00Z``, ``1970-01-01``, ``1900-01-01``)."""
    if not raw:
        return False
    return bool(re.match(r"\s*(?:0{1,4}1?|1900|1970)-01-01(?:[T ]00:00(?::00(?:\.0+)?)?)?(?:Z|[+-]00:?00)?\s*$",
                         raw)) or raw.strip().startswith("0001-")


def choose_date(candidates: Sequence[tuple[str | None, str]], default_tz: str = "UTC"
                ) -> tuple[dt.datetime | dt.date | None, str | None]:
    """The publication date among ``candidates``: ``[(raw string, source), ...]`` best first
    (sources are free labels such as ``"json-ld"``, ``"meta"``, ``"time"``, ``"sitemap"``,
    ``"trafilatura"``). Returns ``(parsed, raw)``: an aware UTC ``datetime`` or a ``date``
    (:func:`newscrawler.dates.parse_date`, a string without offset read in ``default_tz``), and
    the raw string chosen; ``(None, None)`` when none parses.

    Placeholders (:func:`is_placeholder_date`) are skipped. A date-only first choice gives way to
    an exact time from any later candidate on the same day (the day read in ``default_tz``), so
    a sitemap's or feed's ``2024-05-01T09:30:00+02:00`` beats a page's ``2024-05-01``.
    """
    parsed = []
    for raw, _source in candidates:
        if not raw or is_placeholder_date(raw):
            continue
        value = parse_date(raw, default_tz)
        if value is not None:
            parsed.append((value, raw))
    if not parsed:
        return None, None
    first, raw = parsed[0]
    if isinstance(first, dt.datetime):
        return first, raw
    for value, other_raw in parsed[1:]:
        if isinstance(value, dt.datetime) and local_day(value, default_tz) == first:
            return value, other_raw
    return first, raw
