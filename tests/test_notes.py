"""Editorial notes as a grammar (newscrawler.notes): labels, separators, times and sentences in seven
languages, drawn by seed, plus news prose that merely mentions a correction or an update."""

from __future__ import annotations

import random

import pytest

from newscrawler.notes import note_kind, schema_corrections
from tests import variants

_LABELS = {
    "correction": {"en": ["Correction", "CORRECTION", "Clarification", "Editor's note", "Editor’s Note", "Erratum"],
                   "de": ["Korrektur", "Berichtigung", "Richtigstellung", "Anmerkung der Redaktion",
                          "Hinweis der Redaktion", "Transparenzhinweis"],
                   "fr": ["Correction", "Rectificatif", "Note de la rédaction", "Précision", "N.d.l.r."],
                   "es": ["Corrección", "Fe de erratas", "Aclaración", "Nota del editor", "Nota de la redacción"],
                   "it": ["Correzione", "Rettifica", "Precisazione", "Nota della redazione"],
                   "pt": ["Correção", "Errata", "Esclarecimento", "Nota do editor", "Nota da redação"],
                   "ru": ["Исправление", "Уточнение", "Поправка", "Примечание редакции", "От редакции"]},
    "update": {"en": ["Update", "UPDATE", "Updated", "Latest update"],
               "de": ["Update", "Aktualisierung", "Aktualisiert", "Nachtrag", "Ergänzung"],
               "fr": ["Mise à jour", "MISE À JOUR", "Actualisation", "Mis à jour"],
               "es": ["Actualización", "Actualizado", "Ampliación"],
               "it": ["Aggiornamento", "Aggiornato", "AGGIORNAMENTO"],
               "pt": ["Atualização", "Atualizado", "Actualização"],
               "ru": ["Обновление", "Обновлено", "Дополнено"]},
}
_TEXT = {"en": "police have since reopened the road to traffic", "de": "die Polizei hat die Straße wieder freigegeben",
         "fr": "la police a depuis rouvert la route", "es": "la policía ha reabierto la carretera",
         "it": "la polizia ha riaperto la strada", "pt": "a polícia reabriu a estrada",
         "ru": "полиция открыла дорогу для движения"}
_WHEN = ["", ", 17:05", " 5 p.m.", ", 3 May 2024", " (12:40 GMT)", ", 14.03.2024, 9:15", " at 10:30 BST",
         " am 3. Mai um 12 Uhr", " le 3 mai à 12h40", " el 3 de mayo", " alle 12:40", " em 3 de maio", " в 12:40"]
_SEPARATORS = [": ", " : ", " — ", " - ", ". ", ": ", "] "]
_WRAPS = [("", ""), ("*", "*"), ("[", ""), ("(", ")"), ("_", "_"), ("» ", "")]


def _label_note(seed: int) -> tuple[str, str]:
    rng = random.Random(seed)
    kind = rng.choice(sorted(_LABELS))
    language = rng.choice(variants.LANGUAGES)
    label, when, sep = rng.choice(_LABELS[kind][language]), rng.choice(_WHEN), rng.choice(_SEPARATORS)
    opening, closing = rng.choice(_WRAPS)
    if sep == "] ":
        opening = "["
    text = _TEXT[language]
    text = text[0].upper() + text[1:] if rng.random() < 0.5 else text
    return kind, f"{opening}{label}{when}{sep}{text}.{closing}"


@pytest.mark.parametrize("seed", range(300))
def test_a_labelled_note_in_any_wording_is_a_note_of_its_kind(seed):
    kind, note = _label_note(seed)
    assert note_kind(note) == kind, note


@pytest.mark.parametrize("seed", range(80))
def test_generated_correction_and_update_notes(seed):
    rng = random.Random(seed)
    assert note_kind(variants.correction_note(rng)) == "correction"
    assert note_kind(variants.update_note(rng)) == "update"


@pytest.mark.parametrize(("text", "kind"), [
    ("An earlier version of this story misstated the date of the vote.", "correction"),
    ("This article has been amended to remove a quote attributed to the mayor.", "correction"),
    ("In einer früheren Fassung dieses Artikels stand, der Rat habe zugestimmt.", "correction"),
    ("Dans une version précédente de cet article, nous écrivions que le maire était absent.", "correction"),
    ("Una versión anterior de esta noticia atribuía la cita al alcalde.", "correction"),
    ("In una versione precedente di questo articolo il sindaco era indicato come assente.", "correction"),
    ("Uma versão anterior deste texto atribuía a frase ao presidente da câmara.", "correction"),
    ("В предыдущей версии статьи была указана неверная дата.", "correction"),
    ("This story has been updated with comments from the fire service.", "update"),
    ("Der Artikel wurde am Abend um eine Stellungnahme ergänzt.", "update"),
    ("Cet article a été complété avec la réaction du préfet.", "update"),
    ("Esta noticia ha sido ampliada con la reacción del alcalde.", "update"),
    ("Questo articolo è stato aggiornato con la replica del sindaco.", "update"),
    ("Esta notícia foi atualizada com a resposta da câmara.", "update"),
    ("Материал дополнен комментарием мэрии.", "update"),
])
def test_a_note_said_in_a_sentence(text, kind):
    assert note_kind(text) == kind


@pytest.mark.parametrize("text", [
    "Updated figures show a rise in prices across the region.",
    "The correction in share prices wiped 4% off the index on Tuesday.",
    "Officials said an update to the software would follow in May.",
    "Die Korrektur der Prognose kam für viele überraschend.",
    "La mise à jour du logiciel est prévue pour juin.",
    "Updated 09:12 BST, 6 hours ago",  # a dateline: churn, never a note
    "Aktualisiert am 3. Mai 2024, 12:40 Uhr",
    "Mis à jour le 3 mai 2024 à 12h40",
    "Update",
    *variants.SHARED_NOTES,
    *(variants.new_sentence(random.Random(seed)) for seed in range(30)),
])
def test_prose_and_datelines_are_not_notes(text):
    assert note_kind(text) is None


def test_a_long_paragraph_is_never_a_note():
    assert note_kind("Correction: " + "the council met again " * 60) is None


@pytest.mark.parametrize(("value", "texts"), [
    ("The bridge is 40 years old, not 50.", ["The bridge is 40 years old, not 50."]),
    ({"@type": "CorrectionComment", "text": "  A  quote was misattributed. "}, ["A quote was misattributed."]),
    ([{"@type": "CorrectionComment", "text": "One."}, "Two."], ["One.", "Two."]),
    (None, []), (42, []),
])
def test_schema_org_corrections(value, texts):
    assert schema_corrections(value) == texts
