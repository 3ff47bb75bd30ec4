"""The dateline grammar (newscrawler.churn): lines drawn from generators, in seven languages."""

from __future__ import annotations

import random

import pytest

from newscrawler.churn import churn_kind
from tests.variants import correction_note, counter_maker, dateline_maker, new_sentence, update_note

SEEDS = range(5)


@pytest.mark.parametrize(("line", "kind"), [
    ("Last updated 09:12 BST, 6 hours ago", "relative time"),
    ("vor 3 Stunden", "relative time"),
    ("il y a 2 heures", "relative time"),
    ("hace una hora", "relative time"),
    ("un'ora fa", "relative time"),
    ("Atualizado há 3 horas", "relative time"),
    ("час назад", "relative time"),
    ("Updated just now", "relative time"),
    ("Heute, 09:12 Uhr", "relative time"),
    ("By Environment Desk · Updated 5 minutes ago · 12,408 views", "relative time"),
    ("Mis à jour le 05/03/2020 à 09h12", "timestamp"),
    ("Publié le 04 mars 2020 à 18h05 - Mis à jour le 05 mars 2020 à 09h12", "timestamp"),
    ("Publicado el 5 de marzo de 2024 a las 10:32 CET", "timestamp"),
    ("Опубликовано 5 марта 2024, 10:32 МСК", "timestamp"),
    ("Stand: 16.02.2017 09:12 Uhr", "timestamp"),
    ("Thursday, February 16, 2017 · 11:19 AM", "timestamp"),
    ("Last update: 09:12", "timestamp"),
    ("Lesezeit: 4 Minuten", "reading time"),
    ("Время чтения: 3 минуты", "reading time"),
    ("12 тыс. просмотров", "counter"),
    ("1.2K shares", "counter"),
    ("Kommentare (12)", "counter"),
    # text: a word no dateline has, or a number that counts nothing
    ("Update 09:12", None),  # an update note's heading, not a dateline
    ("Correction, 5 May 2024", None),
    ("By Jane Doe", None),  # a byline alone does not change by itself
    ("Monday | 12:00 | 15", None),
    ("At 5 p.m. the mayor spoke", None),
    ("3 people died on Monday", None),
    ("The council voted 5 to 4", None),
    ("© 2017 Gulf Coast Register", None),
])
def test_churn_kind_across_languages(line, kind):
    assert churn_kind(line) == kind


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_datelines_are_churn_in_both_captures(seed):
    structures = random.Random(seed)
    for n in range(200):
        make = dateline_maker(structures)
        for values in (random.Random(n), random.Random(n + 10_000)):
            line = make(values)
            assert churn_kind(line) is not None, line


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_counters_are_churn(seed):
    structures = random.Random(seed)
    for n in range(200):
        line = counter_maker(structures)(random.Random(n))
        assert churn_kind(line) in ("counter", "timestamp"), line


@pytest.mark.parametrize("seed", SEEDS)
def test_a_dateline_with_one_more_word_is_text(seed):
    """Anything more than dateline words, wherever it stands, is text: the grammar never hides it."""
    rng = random.Random(seed)
    # Lower case: a capitalised word inside a byline reads as one more name.
    words = ["mayor", "resigned", "rücktritt", "démission", "alcalde", "sindaco", "prefeito", "мэр", "flood",
             "officials", "evacuated"]
    for n in range(200):
        line = dateline_maker(rng)(random.Random(n)).split(" ")
        line.insert(rng.randint(0, len(line)), rng.choice(words))
        assert churn_kind(" ".join(line)) is None, " ".join(line)


@pytest.mark.parametrize("seed", SEEDS)
def test_notes_and_prose_are_never_churn(seed):
    rng = random.Random(seed)
    for _ in range(100):
        for make in (correction_note, update_note, new_sentence):
            text = make(rng)
            assert churn_kind(text) is None, text
