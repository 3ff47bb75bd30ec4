"""Editorial notes: which paragraphs are a correction, clarification, editor's note or update note.

A paragraph is a note when it *opens with a note label* ("Correction:", "Update, 17:05:",
"[Berichtigung]", "Mise à jour le 3 mai :", "Обновлено в 12:40 —") or *states that the story was
corrected or updated* ("An earlier version of this article misstated ...", "Dieser Text wurde am
... korrigiert", "cet article a été complété ...", "статья исправлена"), in en, de, fr, es, it,
pt or ru, and says more than a dateline (a label and a time alone is churn:
:func:`newscrawler.churn.churn_kind`). The label and sentence words are our own lists, drawn from
the notes news sites print and from schema.org's ``correction`` / ``CorrectionComment``
(https://schema.org/correction). Notes are never masked as boilerplate and decide a version's
``change_kind`` (:mod:`newscrawler.versioning`).
"""

from __future__ import annotations

import re
import unicodedata

from newscrawler.churn import churn_kind

#: Note kinds, as :func:`note_kind` returns them.
CORRECTION, UPDATE = "correction", "update"
#: Longer paragraphs are story text, not a note (a note is a sentence or two).
MAX_CHARS = 700

# Labels a note opens with, per kind; each entry a phrase, matched case-insensitively as whole words.
_LABELS = {
    CORRECTION: """
        correction, corrections, corrected, clarification, clarified, editor's note, editors' note,
        note from the editor, note to readers, erratum, errata, retraction, amendment, amended,
        korrektur, korrigiert, berichtigung, berichtigt, richtigstellung, klarstellung, korrigendum,
        anmerkung der redaktion, hinweis der redaktion, in eigener sache, transparenzhinweis,
        rectificatif, rectification, précision, précisions, mise au point, note de la rédaction,
        note de la redaction, n.d.l.r, ndlr, corrección, fe de erratas, fe de errores, aclaración,
        rectificación, nota del editor, nota de la redacción, nota de la redaccion, correzione, rettifica,
        errata corrige, precisazione, chiarimento, nota della redazione, nota del direttore, correção,
        correcção, esclarecimento, retificação, rectificação, nota do editor, nota da redação,
        nota da redacção, исправление, исправлено, уточнение, уточнено, поправка, опровержение,
        примечание редакции, от редакции
    """,
    UPDATE: """
        update, updates, updated, editor's update, latest update, aktualisierung, aktualisiert, nachtrag,
        ergänzung, ergänzt, mise à jour, mis à jour, mise a jour, actualisation, actualisé, complément,
        actualización, actualizado, actualizada, ampliación, aggiornamento, aggiornato, aggiornata,
        atualização, atualizado, atualizada, actualização, обновление, обновлено, дополнено, дополнение
    """,
}
# Phrases that, anywhere in a short paragraph, say the story was corrected or updated.
_SENTENCES = {
    CORRECTION: [
        r"\b(?:an?|the) (?:earlier|previous|prior|original) (?:version|edition) of (?:this|the)\b",
        r"\b(?:this|the) (?:article|story|report|piece|post|text|headline) (?:has been|was|have been|is) "
        r"(?:\w+ )?(?:corrected|amended|clarified|revised)\b",
        r"\b(?:incorrectly|wrongly|erroneously) (?:stated|said|reported|identified|described|gave)\b",
        r"\bmisstated\b|\bmisidentified\b|\bmisspelled\b|\bmisquoted\b",
        r"\bin einer (?:früheren|vorherigen|älteren) (?:version|fassung)\b",
        r"\b(?:dieser|der) (?:artikel|text|beitrag|bericht) wurde (?:.{0,40})?(?:korrigiert|berichtigt)\b",
        r"\bune (?:précédente|ancienne|première) version\b|\bune version (?:précédente|antérieure)\b",
        r"\b(?:cet|l') ?article a été (?:.{0,40})?(?:corrigé|rectifié)\b",
        r"\buna versión (?:anterior|previa)\b",
        r"\b(?:este|el|esta|la) (?:artículo|texto|noticia|información|nota) (?:fue|ha sido) (?:.{0,40})?"
        r"(?:corregid[oa]|rectificad[oa])\b",
        r"\buna (?:versione|edizione) precedente\b",
        r"\b(?:questo|l') ?articolo è stato (?:.{0,40})?(?:corretto|rettificato)\b",
        r"\buma versão anterior\b",
        r"\b(?:este|esta|o|a) (?:texto|notícia|reportagem|artigo|matéria) foi (?:.{0,40})?"
        r"(?:corrigid[oa]|retificad[oa]|rectificad[oa])\b",
        r"\bв (?:предыдущей|прежней|первоначальной) версии\b",
        r"\b(?:статья|материал|текст|новость) (?:был[аио]? )?(?:исправлен[аоы]?|уточнен[аоы]?)\b",
    ],
    UPDATE: [
        r"\b(?:this|the) (?:article|story|report|piece|post|text) (?:has been|was|have been|is|will be) "
        r"(?:\w+ )?(?:updated|expanded|extended|changed)\b",
        r"\b(?:dieser|der) (?:artikel|text|beitrag|bericht) wurde (?:.{0,40})?(?:aktualisiert|ergänzt|erweitert)\b",
        r"\b(?:cet|l') ?article a été (?:.{0,40})?(?:mis à jour|complété|actualisé|modifié)\b",
        r"\b(?:este|el|esta|la) (?:artículo|texto|noticia|información|nota) (?:fue|ha sido|se ha) (?:.{0,40})?"
        r"(?:actualizad[oa]|ampliad[oa]|modificad[oa])\b",
        r"\b(?:questo|l') ?articolo è stato (?:.{0,40})?(?:aggiornato|integrato|modificato)\b",
        r"\b(?:este|esta|o|a) (?:texto|notícia|reportagem|artigo|matéria) foi (?:.{0,40})?"
        r"(?:atualizad[oa]|actualizad[oa]|ampliad[oa]|alterad[oa])\b",
        r"\b(?:статья|материал|текст|новость) (?:был[аио]? )?(?:обновлен[аоы]?|дополнен[аоы]?)\b",
        r"\bв (?:материал|статью|текст) добавлен",
    ],
}
# What may follow a label before the note's text: a closing bracket, a separator, an opening
# parenthesis, a time or date, or a preposition before one ("Update, 17:05:", "[Update] ...",
# "Correction (3 May):", "Update 5 p.m.:", "Mise à jour le 3 mai :").
_AFTER_LABEL = re.compile(
    r"""^(?:[*_»"]*\s*[:：,.;–—\-\])]
        |\s*\(
        |\s+\d
        |\s+(?:at|on|um|am|vom|le|à|el|a\slas|il|alle|em|às|в|от)\b
        |\s*$)""",
    re.VERBOSE | re.IGNORECASE)
_OPENING = re.compile(r"^[\s\[\](*_«»\"'“”„‹›•·|–—-]*")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _phrases(words: str) -> frozenset[str]:
    """A comma-separated list of label phrases, each folded, apostrophes made straight."""
    return frozenset(" ".join(_fold(p).replace("’", "'").replace(".", " ").split())
                     for p in words.split(",") if p.strip())


_LABEL_PHRASES = {kind: _phrases(words) for kind, words in _LABELS.items()}
_SENTENCE_RES = {kind: [re.compile(p, re.IGNORECASE) for p in patterns] for kind, patterns in _SENTENCES.items()}


def _label_kind(paragraph: str) -> str | None:
    """The kind of the label the paragraph opens with ("Correction:", "[Update 17:05]", "Berichtigung,
    3. Mai:"), or None."""
    text = _OPENING.sub("", paragraph)
    words = list(_WORD.finditer(text[:80]))
    for size in (4, 3, 2, 1):
        if len(words) < size or words[0].start() != 0:
            continue
        # The phrase must be the run of words from the start, separated only by spaces or dots.
        end = words[size - 1].end()
        if any(ch in text[:end] for ch in ":,;()"):
            continue
        phrase = " ".join(_fold(text[:end]).replace("’", "'").replace(".", " ").split())
        for kind in (CORRECTION, UPDATE):
            if phrase in _LABEL_PHRASES[kind] and _AFTER_LABEL.match(text[end:]):
                return kind
    return None


def note_kind(paragraph: str) -> str | None:
    """Whether a body paragraph is an editorial note: ``"correction"`` (a correction, clarification,
    erratum or editor's note), ``"update"`` (an update note), or None.

    A note either opens with a label of its kind followed by a separator, a bracket or a
    time/date ("Update, 17:05: ...", "Correction (3 May): ...", "Aktualisiert am 3. Mai um 12 Uhr:
    ..."), or, in a paragraph of at most :data:`MAX_CHARS` characters, says that this story was
    corrected or updated. A correction wins over an update when a paragraph says both. A dateline
    (:func:`newscrawler.churn.churn_kind`) is never a note.
    """
    text = " ".join((paragraph or "").split())
    if not text or len(text) > MAX_CHARS or churn_kind(text):
        return None
    if len(_WORD.findall(text)) < 3:  # "Update" and a time: a dateline, not a note
        return None
    kinds = {_label_kind(text)} | {kind for kind, patterns in _SENTENCE_RES.items()
                                    if any(rx.search(text) for rx in patterns)}
    return CORRECTION if CORRECTION in kinds else UPDATE if UPDATE in kinds else None


def schema_corrections(ld: dict | list | str | None) -> list[str]:
    """The texts of a schema.org article's ``correction`` property (a string, a ``CorrectionComment``
    or a list of them; https://schema.org/correction), normalised, in order; ``[]`` when it has none."""
    if ld is None:
        return []
    values = ld if isinstance(ld, list) else [ld]
    texts = []
    for value in values:
        if isinstance(value, str):
            text = value
        elif isinstance(value, dict):
            text = value.get("text") or value.get("description") or value.get("name") or ""
            if isinstance(text, list):
                text = " ".join(str(t) for t in text)
        else:
            continue
        text = " ".join(str(text).split())
        if text:
            texts.append(text)
    return texts
