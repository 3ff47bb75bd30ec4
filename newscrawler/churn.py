"""Dateline grammar: which lines of a page change by themselves (timestamps, relative times, counters).

A line is *churn* when, once its dates, clock times, zones, relative times, reading times and counts
are taken out, only dateline words are left ("Last updated", "am", "à", "vor", "By <Name>"), in any
order. Anything more is text. Month, weekday, time-unit and relative-time words of en, de, fr, es,
it, pt and ru come from dateparser's translation data (which draws on the Unicode CLDR); the
dateline, reading-time and counter words are our own lists (below).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable

#: The languages whose dateline words are known (ISO 639-1).
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "ru")
#: Longer lines are never churn: a dateline is short.
MAX_CHARS = 200
MAX_TOKENS = 40

# Zone abbreviations news sites print (IANA tz database abbreviations, plus the German MEZ/MESZ,
# the French HNE/HAE and the Russian МСК).
ZONES = frozenset("""
UTC GMT BST IST CET CEST MEZ MESZ WET WEST WEZ WESZ EET EEST OEZ OESZ MSK МСК EST EDT CST CDT MST MDT
PST PDT AKST AKDT HST ET CT MT PT AEST AEDT ACST ACDT AWST NZST NZDT JST KST HKT SGT SAST WAT CAT EAT BRT
ART CLT COT PET HNE HAE HNP HAP
""".split())

# Words a dateline is made of besides the dates themselves: labels, prepositions and articles.
_LABELS = """
updated published posted modified edited created first originally last latest on at of the and since
from date time timestamp as
aktualisiert veröffentlicht erstellt geändert bearbeitet publiziert stand zuletzt letzte letzter
zuerst am um uhr vom seit und datum zeit
mis mise jour publié publiée modifié modifiée actualisé actualisée édité le la les l du de des à a et
en dernière première
actualizado actualizada publicado publicada modificado modificada editado el las los al del y última
último
aggiornato aggiornata aggiornamento pubblicato pubblicata modificato modificata il lo alle ore ultimo
ultima di e
atualizado atualizada atualização publicado publicada modificado modificada em às as o do da dos
última
обновлено обновлён обновлена обновлено опубликовано опубликован опубликована изменено изменён дата
время в во от и последнее обновление
""".split()
# Nouns for "update" count as dateline words only after "last"/"letzte"/... ("Last update: 09:12");
# "Update, 5 p.m.: ..." opens an update note, which is text.
_UPDATE_NOUNS = {"update", "aktualisierung", "actualisation", "actualización", "aggiornamento",
                 "atualização", "обновление", "änderung"}
_LAST = {"last", "latest", "letzte", "letzter", "zuletzt", "dernière", "última", "último", "ultimo",
         "ultima", "последнее"}
# Words of "just now" and "a moment ago" in the seven languages.
_NOW = """
just now moment moments instant gerade eben soeben jetzt maintenant instant ahora mismo momento
adesso poco ora agora mesmo instantes только что сейчас
""".split()
_READING = """
read reading listen watch min lesezeit lesedauer lesen hören lecture lire temps écoute lectura leer
tiempo lettura leggere tempo leitura ler чтения чтение прочтения на чтение
""".split()
_COUNTERS = """
view views viewed share shares shared comment comments like likes reads reader readers reaction
reactions reply replies retweet retweets repost reposts clap claps vote votes
aufruf aufrufe ansichten kommentar kommentare kommentaren geteilt teilen leser reaktion reaktionen
mal gefällt
vue vues partage partages partagé partagés commentaire commentaires réaction réactions lecteurs
lectures fois
vista vistas visita visitas visualizaciones comentario comentarios compartido compartidos compartir
reacción reacciones lecturas veces me gusta
visualizzazione visualizzazioni visite commento commenti condivisione condivisioni letture reazioni
volte mi piace
visualização visualizações comentário comentários compartilhamento compartilhamentos partilhas
curtida curtidas reações leituras vezes j aime
просмотр просмотра просмотров просмотры комментарий комментария комментариев комментарии репост
репоста репостов лайк лайка лайков прочтение прочтения прочтений реакция реакции реакций раз
поделились
""".split()
# Words that open a byline ("By Jane Doe", "Von Max Muster", "Par ...", "Автор: ...").
_BYLINE = {"by", "von", "par", "por", "di", "da", "de", "от", "автор", "текст", "written"}
_NAME_JOINERS = {"and", "und", "et", "y", "e", "и", "&", "van", "von", "der", "den", "de", "del", "della",
                 "da", "di", "du", "la", "le", "dos", "das", "des", "bin", "al"}
# Counts written short: 1.2K views, 3 Mio. Aufrufe, 12 тыс. просмотров.
_NUMBER_SUFFIXES = {"k", "mio", "mil", "mln", "тыс", "млн"}
_NUMBER_WORDS = """
a an one two three few several ein eine einer einem einen zwei drei un une deux trois quelques uno una
dos tres unos unas due tre qualche um uma dois duas três один одна одну два две три несколько
""".split()


def _dateparser_words(languages: Iterable[str]) -> dict[str, set[str]]:
    """Month, weekday, unit, ago and relative-day words of ``languages`` from dateparser's data."""
    words: dict[str, set[str]] = {"month": set(), "weekday": set(), "unit": set(), "ago": set(),
                                  "relative": set(), "ampm": set(), "skip": set()}
    months = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
              "october", "november", "december")
    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    units = ("year", "month", "week", "day", "hour", "minute", "second")

    def add(group: str, values: Iterable[str]) -> None:
        for value in values:
            for word in _WORD.findall(value.lower()):
                words[group].add(word.rstrip("."))

    for language in languages:
        info = importlib.import_module(f"dateparser.data.date_translation_data.{language}").info
        for key in months:
            add("month", info.get(key, []))
        for key in weekdays:
            add("weekday", info.get(key, []))
        for key in units:
            add("unit", info.get(key, []))
        add("ago", info.get("ago", []))
        add("ampm", [*info.get("am", []), *info.get("pm", [])])
        add("skip", info.get("skip", []))
        # One-word relative days only ("heute", "hier", "ayer"): "last week" would make "last" relative.
        add("relative", [w for values in info.get("relative-type", {}).values() for w in values if " " not in w])
    return words


_WORD = re.compile(r"[^\W\d_]+")
_TOKENS = re.compile(
    r"(?P<iso>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)"
    r"|(?P<clock>\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?|\d{1,2}\s?[hH]\s?\d{2}\b)"
    r"|(?P<date>\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\d{4}/\d{1,2}/\d{1,2}\b)"
    r"|(?P<num>\d+(?:[.,]\d+)*(?:(?:st|nd|rd|th|er|ème|e|º|ª)\b)?(?!\d)\.?)"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<sep>\S)")
_IL_Y_A = re.compile(r"\bil\s+y\s+a\b", re.IGNORECASE)
_AMPM_DOTTED = re.compile(r"\b([aApP])\.\s?[mM]\.")
# "09.12 Uhr", "9.12 h": a clock written with a dot, known by the word after it.
_DOT_CLOCK = re.compile(r"\b(\d{1,2})\.(\d{2})(?=\s?(?:[Uu]hr|h|ч)\b)")


class _Vocabulary:
    """The word classes of the grammar, each a set of lower-case words."""

    def __init__(self, languages: Iterable[str] = LANGUAGES):
        found = _dateparser_words(languages)
        self.month = found["month"] - {"a", "e", "o", "de"}
        self.weekday = found["weekday"] - {"a", "e", "o", "de"}
        self.unit = found["unit"] | {"hrs", "mins", "secs", "minuten", "stunden", "sekunden", "tagen", "wochen",
                                     "monaten", "jahren", "часов", "минут", "минуты", "секунд", "дней"}
        # French "il y a" is read as one word (see _IL_Y_A); its parts are ordinary words.
        self.ago = (found["ago"] - {"il", "y", "ya", "a"}) | {"ilya"}
        self.relative = found["relative"] | set(_NOW)
        self.ampm = found["ampm"] | {"am", "pm"}
        self.labels = set(_LABELS)
        self.reading = set(_READING)
        self.counters = set(_COUNTERS)
        self.number_words = set(_NUMBER_WORDS)
        self.every = frozenset().union(self.month, self.weekday, self.unit, self.ago, self.relative, self.ampm,
                                       self.labels, self.reading, self.counters, self.number_words, _UPDATE_NOUNS,
                                       _BYLINE, _NAME_JOINERS, _NUMBER_SUFFIXES, {"ilya", "il", "p"})

    def may_be_dateline(self, text: str) -> bool:
        """A quick test that rejects most prose: False at the first lower-case word no dateline has
        (a capitalised one may be a name in a byline)."""
        every = self.every
        for match in _WORD.finditer(text):
            word = match.group()
            if word[0].islower() and word not in every:
                return False
        return True

    def kind(self, word: str) -> str | None:
        """The class of one word (lower case), or None for a word no dateline has."""
        for name in ("ago", "month", "weekday", "unit", "ampm", "counters", "reading", "relative", "labels",
                     "number_words"):
            if word in getattr(self, name):
                return name
        return None


_vocabulary: _Vocabulary | None = None


def _words() -> _Vocabulary:
    global _vocabulary
    if _vocabulary is None:
        _vocabulary = _Vocabulary()
    return _vocabulary


# Classes next to which a bare number is part of a dateline or a counter ("16 February", "5 min",
# "12 views", "11:19 AM", "UTC+1"); a number with none of them beside it is text ("15", "3.14").
_SUPPORTS = {"month", "weekday", "unit", "ampm", "zone", "counters", "suffix", "ago", "reading"}
# Short words that stand between a number and its month or unit ("5 de marzo", "5th of May"): skipped
# when looking for a number's neighbours.
_GLUE = {"de", "del", "of", "the", "le", "el", "à", "a", "di", "da", "do", "em", "в"}


def tokens(line: str) -> list[tuple[str, str]]:
    """``(class, text)`` for each token of a line: ``iso``, ``clock``, ``date``, ``num``, ``year``,
    ``zone``, ``suffix``, ``sep`` or a word class of the vocabulary (``month``, ``weekday``,
    ``unit``, ``ago``, ``ampm``, ``counters``, ``reading``, ``relative``, ``labels``,
    ``number_words``); ``other`` for a word no dateline has."""
    vocabulary = _words()
    text = _DOT_CLOCK.sub(r"\1:\2", _AMPM_DOTTED.sub(lambda m: m.group(1) + "m", line))
    text = _IL_Y_A.sub("ilya", text)
    out: list[tuple[str, str]] = []
    for match in _TOKENS.finditer(text):
        group, value = match.lastgroup, match.group()
        if group == "num":
            digits = value.rstrip(".")
            if digits.isdigit() and len(digits) == 4 and 1990 <= int(digits) <= 2100:
                group = "year"
        elif group == "word":
            lower = value.lower()
            if value in ZONES:
                group = "zone"
            elif lower in _NUMBER_SUFFIXES and out and out[-1][0] == "num":
                group = "suffix"
            else:
                group = vocabulary.kind(lower) or "other"
        out.append((group, value))
    return out


def churn_kind(paragraph: str) -> str | None:
    """Whether a paragraph is a line that changes by itself between captures, and which kind.

    Returns ``"relative time"`` ("Updated 3 hours ago", "vor 3 Stunden", "il y a 2 heures",
    "Last updated 09:12 BST, 6 hours ago"), ``"reading time"`` ("5 min read", "Lesezeit: 4
    Minuten"), ``"counter"`` ("1,204 views", "Comments (12)", "12 тыс. просмотров"),
    ``"timestamp"`` ("Mis à jour le 05/03/2020 à 09h12", "Thursday, February 16, 2017 · 11:19 AM")
    or None for anything else. The words may stand in any order; a byline ("By Jane Doe ·") may
    lead a line that has one of the above. Any other word, and any number with neither a unit, a
    month, a clock, a zone nor a counter beside it, makes the line text: "Update, 3:45 p.m.: the
    mayor resigned." and "12 people were injured" are content.
    """
    text = paragraph.strip()
    if not text or len(text) > MAX_CHARS or not _words().may_be_dateline(text):
        return None
    found = tokens(text)
    if len(found) > MAX_TOKENS:
        return None
    found = _without_byline(found)
    if found is None:
        return None
    classes = [group for group, _ in found]
    words = [(group, value.lower()) for group, value in found if group != "sep"]
    for n, (group, value) in enumerate(words):
        if group == "other":
            if value in _UPDATE_NOUNS and n > 0 and words[n - 1][1] in _LAST:
                continue
            return None
    if not _numbers_supported(found):
        return None
    has = set(classes)
    numbers = has & {"num", "year", "number_words"}
    time_anchor = bool(has & {"clock", "date", "iso"}) or ("month" in has and bool(numbers & {"num", "year"}))
    if "ago" in has and (numbers or "unit" in has) and ("unit" in has or time_anchor):
        return "relative time"
    if "relative" in has and (time_anchor or "labels" in has):
        return "relative time"
    if "reading" in has and "unit" in has and numbers and _reading_words(words):
        return "reading time"
    if "counters" in has and numbers & {"num", "number_words"} and not time_anchor:
        return "counter"
    if time_anchor:
        return "timestamp"
    if "counters" in has and "num" in has:
        return "counter"
    return None


def _reading_words(words: list[tuple[str, str]]) -> bool:
    """Whether a reading-time word other than the unit "min" is among ``words``."""
    return any(group == "reading" and value != "min" for group, value in words)


def _numbers_supported(found: list[tuple[str, str]]) -> bool:
    """Whether every bare number (and number word) stands beside a class that makes it a date or a
    count, directly or through a chain of such numbers ("16 February 2017", "12 408 vues")."""
    items = [(n, group) for n, (group, value) in enumerate(found)
             if group != "sep" and not (group in ("labels", "unit", "number_words") and value.lower() in _GLUE)]
    numeric = {"num", "year", "number_words"}
    supported = {n for n, group in items if group not in numeric}
    pending = [n for n, group in items if group in numeric]
    positions = [n for n, _ in items]
    group_at = dict(items)
    changed = True
    while pending and changed:
        changed = False
        for n in list(pending):
            k = positions.index(n)
            neighbours = [positions[j] for j in (k - 1, k + 1) if 0 <= j < len(positions)]
            if any(m in supported and (group_at[m] in _SUPPORTS or group_at[m] in numeric) for m in neighbours):
                if group_at[n] == "number_words" and not any(group_at[m] in ("unit", "counters")
                                                             for m in neighbours):
                    continue  # "a", "une" only count before a unit: "an hour ago", "il y a une heure"
                supported.add(n)
                pending.remove(n)
                changed = True
    if not pending:
        return True
    # A number word left over ("a", "e", "un") reads as an article or a conjunction: a label then.
    return all(group_at[n] == "number_words" and found[n][1].lower() in _words().labels for n in pending)


def _without_byline(found: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """The tokens with a leading byline ("By Jane Doe", "Von M. Muster und A. Beispiel") taken out.

    A byline counts only in a line that has something else: None for a line that is only a byline.
    Names are capitalised words (initials allowed) after a byline word, joined by "and", "und",
    "et", "y", "e", "и", "&", commas or particles such as "van" and "de".
    """
    out: list[tuple[str, str]] = []
    n = 0
    had_byline = False
    while n < len(found):
        group, value = found[n]
        opens = n == 0 or found[n - 1][0] == "sep" or found[n - 1][0] == "labels" and value.lower() == "by"
        if opens and value.lower() in _BYLINE and n + 1 < len(found):
            j = n + 1
            while j < len(found) and found[j][1] == ":":
                j += 1
            names = 0
            while j < len(found):
                g, v = found[j]
                if g == "sep" and v in ".'’-" or v.lower() in _NAME_JOINERS and names:
                    j += 1
                    continue
                after = found[j + 1][0] if j + 1 < len(found) else None
                if v[:1].isupper() and (g == "other" or g in ("month", "weekday") and after not in ("num", "year")):
                    names += 1
                    j += 1
                    continue
                if g == "sep" and v == "," and names and j + 1 < len(found) and found[j + 1][1][:1].isupper() \
                        and found[j + 1][0] == "other":
                    j += 1
                    continue
                break
            if names:
                had_byline = True
                n = j
                continue
        out.append((group, value))
        n += 1
    if had_byline and not any(group != "sep" for group, _ in out):
        return None
    return out
