"""Generators of churn lines and editorial notes in seven languages, for tests and the benchmark.

Each generator takes a ``random.Random`` and returns text; the same structure drawn twice with
different values (:func:`dateline_pair`) is a line that changes by itself between two captures.
Every generator offers at least 20 variants (wording x language x order), so that a rule written
for one example cannot pass: tests draw from them by seed, and so does
``benchmarks/change_detection.py``.
"""

from __future__ import annotations

import random

LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "ru")

_MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split(),
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre".split(),
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro".split(),
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split(),
}
_WEEKDAYS = {
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split(),
    "de": "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag".split(),
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche".split(),
    "es": "lunes martes miércoles jueves viernes sábado domingo".split(),
    "it": "lunedì martedì mercoledì giovedì venerdì sabato domenica".split(),
    "pt": "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado domingo".split(),
    "ru": "понедельник вторник среда четверг пятница суббота воскресенье".split(),
}
# Labels before a time ("Updated", "Stand:"), each language several ways.
_LABELS = {
    "en": ["Updated", "Last updated", "Published", "Posted", "Updated:", "Last update:", "First published on",
           "Published on", "Modified"],
    "de": ["Aktualisiert", "Aktualisiert am", "Stand:", "Veröffentlicht am", "Zuletzt aktualisiert:", "Erstellt am"],
    "fr": ["Mis à jour le", "Publié le", "Mis à jour", "Publié", "Modifié le", "Dernière mise à jour :"],
    "es": ["Actualizado", "Actualizado el", "Publicado el", "Publicado", "Última actualización:", "Modificado"],
    "it": ["Aggiornato", "Aggiornato il", "Pubblicato il", "Pubblicato", "Ultimo aggiornamento:", "Modificato"],
    "pt": ["Atualizado", "Atualizado em", "Publicado em", "Publicado", "Última atualização:", "Modificado"],
    "ru": ["Обновлено", "Опубликовано", "Обновлено:", "Последнее обновление:", "Изменено"],
}
_ZONES = ["GMT", "UTC", "BST", "CET", "CEST", "EST", "EDT", "PST", "MEZ", "MESZ", "МСК", "ET", "UTC+1", "GMT+2"]
# "N <unit> ago" in each language: (template, units by size).
_RELATIVE = {
    "en": ("{n} {unit} ago", {"s": "seconds", "m": "minutes", "mm": "mins", "h": "hours", "hh": "hrs", "d": "days"}),
    "de": ("vor {n} {unit}", {"s": "Sekunden", "m": "Minuten", "mm": "Min.", "h": "Stunden", "hh": "Std.",
                              "d": "Tagen"}),
    "fr": ("il y a {n} {unit}", {"s": "secondes", "m": "minutes", "mm": "min", "h": "heures", "hh": "h",
                                 "d": "jours"}),
    "es": ("hace {n} {unit}", {"s": "segundos", "m": "minutos", "mm": "min", "h": "horas", "hh": "h", "d": "días"}),
    "it": ("{n} {unit} fa", {"s": "secondi", "m": "minuti", "mm": "min", "h": "ore", "hh": "h", "d": "giorni"}),
    "pt": ("há {n} {unit}", {"s": "segundos", "m": "minutos", "mm": "min", "h": "horas", "hh": "h", "d": "dias"}),
    "ru": ("{n} {unit} назад", {"s": "секунд", "m": "минут", "mm": "мин", "h": "часов", "hh": "ч", "d": "дней"}),
}
_READING = {
    "en": ["{n} min read", "{n} minute read", "Reading time: {n} minutes", "{n} min listen"],
    "de": ["Lesezeit: {n} Minuten", "Lesedauer {n} Min.", "{n} Min. Lesezeit"],
    "fr": ["Temps de lecture : {n} min", "Lecture {n} min", "{n} min de lecture"],
    "es": ["{n} min de lectura", "Tiempo de lectura: {n} minutos", "Lectura: {n} min"],
    "it": ["Tempo di lettura: {n} minuti", "Lettura {n} min", "{n} min di lettura"],
    "pt": ["Tempo de leitura: {n} minutos", "Leitura: {n} min", "{n} min de leitura"],
    "ru": ["Время чтения: {n} минут", "{n} мин чтения", "Чтение: {n} мин"],
}
_COUNTERS = {
    "en": ["{n} views", "{n} shares", "Comments ({n})", "{n} comments", "{k}K views", "Shares: {n}", "{n} likes",
           "{n} reactions", "Views: {n}"],
    "de": ["{n} Aufrufe", "{n} Kommentare", "Kommentare ({n})", "{n} Mal geteilt", "{n} Leser"],
    "fr": ["{n} vues", "{n} commentaires", "Commentaires ({n})", "{n} partages", "{n} réactions"],
    "es": ["{n} visitas", "{n} comentarios", "Comentarios ({n})", "{n} compartidos", "{n} vistas"],
    "it": ["{n} visualizzazioni", "{n} commenti", "Commenti ({n})", "{n} condivisioni", "{n} letture"],
    "pt": ["{n} visualizações", "{n} comentários", "Comentários ({n})", "{n} compartilhamentos", "{n} curtidas"],
    "ru": ["{n} просмотров", "{n} комментариев", "Комментарии ({n})", "{k} тыс. просмотров", "{n} репостов"],
}
_BYLINES = {"en": "By", "de": "Von", "fr": "Par", "es": "Por", "it": "Di", "pt": "Por", "ru": "Автор:"}
_NAMES = ["Jane Doe", "Max Muster", "Marie Dupont", "Ana García", "Luca Bianchi", "João Silva", "Анна Петрова",
          "Environment Desk", "Sam Lee and Kim Park"]
_SEPARATORS = [" · ", " | ", ", ", " - ", " — ", " • ", " "]


def _clock(rng: random.Random, language: str) -> str:
    h, m = rng.randint(0, 23), rng.randint(0, 59)
    style = rng.randrange(5)
    if style == 0 and language == "en":
        return f"{(h % 12) or 12}:{m:02d} {rng.choice(['am', 'pm', 'AM', 'PM', 'a.m.', 'p.m.'])}"
    if style == 1 and language == "fr":
        return f"{h}h{m:02d}"
    if style == 2 and language == "de":
        return f"{h:02d}.{m:02d} Uhr"
    if style == 3:
        return f"{h:02d}:{m:02d}:{rng.randint(0, 59):02d}"
    return f"{h:02d}:{m:02d}"


def _date(rng: random.Random, language: str, form: int) -> str:
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2015, 2027)
    name = _MONTHS[language][month - 1]
    forms = [
        f"{day} {name} {year}",
        f"{day:02d}.{month:02d}.{year}",
        f"{year}-{month:02d}-{day:02d}",
        f"{day:02d}/{month:02d}/{year}",
        f"{_WEEKDAYS[language][rng.randrange(7)]}, {day} {name} {year}",
    ]
    if language == "en":
        forms += [f"{name} {day}, {year}", f"{name[:3]} {day}, {year}", f"{day}th of {name} {year}"]
    elif language in ("es", "pt"):
        forms += [f"{day} de {name} de {year}"]
    return forms[form % len(forms)]


def _relative(rng: random.Random, language: str, unit: str) -> str:
    template, units = _RELATIVE[language]
    return template.format(n=rng.randint(2, 59), unit=units[unit])


def dateline_maker(structure: random.Random):
    """A dateline's structure drawn from ``structure``: returns ``make(values) -> str``, the line
    with its times and numbers drawn from the ``random.Random`` ``values``.

    Structures: language (7), label (5-9 a language), parts (a date, a clock with or without zone,
    a relative time, a reading time, a byline) in any order, separators (7): thousands of variants.
    """
    language = structure.choice(LANGUAGES)
    label = structure.choice(_LABELS[language])
    parts = structure.sample(["date", "clock", "relative", "reading"], structure.randint(1, 3))
    date_form = structure.randrange(8)
    zone = structure.choice(_ZONES) if structure.random() < 0.6 else None
    unit = structure.choice(["s", "m", "mm", "h", "hh", "d"])
    reading = structure.choice(_READING[language])
    separator = structure.choice(_SEPARATORS[:-1])
    byline = f"{_BYLINES[language]} {structure.choice(_NAMES)}" if structure.random() < 0.3 else None
    labelled = structure.random() < 0.8

    def make(values: random.Random) -> str:
        texts = []
        for part in parts:
            if part == "date":
                texts.append(_date(values, language, date_form))
            elif part == "clock":
                texts.append(_clock(values, language) + (f" {zone}" if zone else ""))
            elif part == "relative":
                texts.append(_relative(values, language, unit))
            else:
                texts.append(reading.format(n=values.randint(2, 15)))
        line = separator.join(texts)
        if labelled and parts[0] != "reading":
            line = f"{label} {line}"
        return f"{byline}{separator}{line}" if byline else line
    return make


def counter_maker(structure: random.Random):
    """A counter line ("12,408 views", "Commenti (12)", "3 тыс. просмотров"), one to three counters."""
    language = structure.choice(LANGUAGES)
    templates = structure.sample(_COUNTERS[language], structure.randint(1, 2))
    separator = structure.choice(_SEPARATORS)
    thousands = structure.choice([",", ".", " ", ""])

    def make(values: random.Random) -> str:
        def number() -> str:
            return f"{values.randint(1000, 99999):,}".replace(",", thousands) if values.random() < 0.5 \
                else str(values.randint(1, 999))
        return separator.join(t.format(n=number(), k=values.randint(1, 99)) for t in templates)
    return make


# --- editorial notes: always text -------------------------------------------------------------------

_CORRECTIONS = {
    "en": ["Correction: An earlier version of this article misstated the number of people at the meeting. "
           "It was {a}, not {b}.",
           "Correction, {date}: This story was amended to show that the council approved {a} homes, not {b}.",
           "Clarification: This article has been updated to make clear that the fee applies to {a} schools.",
           "Editor's note: An earlier version of this story gave the wrong figure for the budget ({b} million).",
           "CORRECTION: A previous version of this article incorrectly said the bridge was {b} years old; "
           "it is {a}."],
    "de": ["Korrektur: In einer früheren Version dieses Artikels hieß es, es seien {b} Menschen gewesen. "
           "Richtig ist {a}.",
           "Berichtigung: Wir haben die Zahl der Wohnungen korrigiert, es sind {a}, nicht {b}.",
           "Anmerkung der Redaktion: Dieser Text wurde am {date} korrigiert."],
    "fr": ["Correction : une version précédente de cet article indiquait {b} participants au lieu de {a}.",
           "Rectificatif : nous avons corrigé le montant du budget, qui est de {a} millions d'euros.",
           "Note de la rédaction : cet article a été modifié le {date} pour corriger une erreur."],
    "es": ["Corrección: una versión anterior de este artículo afirmaba que había {b} personas; eran {a}.",
           "Fe de erratas: el presupuesto es de {a} millones, no de {b}.",
           "Nota del editor: este artículo fue corregido el {date}."],
    "it": ["Correzione: una versione precedente di questo articolo indicava {b} persone invece di {a}.",
           "Rettifica: il bilancio è di {a} milioni di euro, non {b}.",
           "Nota della redazione: questo articolo è stato corretto il {date}."],
    "pt": ["Correção: uma versão anterior desta reportagem dizia que eram {b} pessoas; eram {a}.",
           "Errata: o orçamento é de {a} milhões, e não {b}.",
           "Nota do editor: este texto foi corrigido em {date}."],
    "ru": ["Исправление: в предыдущей версии статьи говорилось о {b} участниках, на самом деле их было {a}.",
           "Уточнение: бюджет составляет {a} млн рублей, а не {b}.",
           "Примечание редакции: статья исправлена {date}."],
}
_UPDATES = {
    "en": ["Update, {clock}: Officials have since confirmed that {a} people were evacuated.",
           "UPDATE: This story has been updated with a statement from the council, which said {a} jobs were safe.",
           "Updated at {clock} to add comments from the mayor, who promised {a} new buses.",
           "This article was updated on {date} with new figures: {a} households are affected."],
    "de": ["Update, {clock} Uhr: Die Behörden haben inzwischen bestätigt, dass {a} Menschen evakuiert wurden.",
           "Aktualisierung: Der Text wurde um eine Stellungnahme der Stadt ergänzt, die {a} Stellen sichern will."],
    "fr": ["Mise à jour, {clock} : les autorités ont depuis confirmé l'évacuation de {a} personnes.",
           "Mise à jour : cet article a été complété avec la réaction de la mairie, qui promet {a} bus."],
    "es": ["Actualización, {clock}: las autoridades han confirmado desde entonces que {a} personas fueron "
           "evacuadas.",
           "Actualización: esta noticia se ha ampliado con la respuesta del ayuntamiento, que promete {a} "
           "autobuses."],
    "it": ["Aggiornamento, {clock}: le autorità hanno poi confermato che {a} persone sono state evacuate.",
           "Aggiornamento: l'articolo è stato integrato con la replica del comune, che promette {a} autobus."],
    "pt": ["Atualização, {clock}: as autoridades confirmaram entretanto que {a} pessoas foram retiradas.",
           "Atualização: esta notícia foi ampliada com a resposta da câmara, que promete {a} autocarros."],
    "ru": ["Обновление, {clock}: власти подтвердили, что эвакуированы {a} человек.",
           "Обновлено: в материал добавлен комментарий мэрии, которая обещает {a} новых автобусов."],
}


def _fill(template: str, rng: random.Random, language: str) -> str:
    a = rng.randint(12, 400)
    return template.format(a=a, b=a + rng.randint(1, 30), clock=_clock(rng, "en").split()[0],
                           date=_date(rng, language, 0))


def correction_note(rng: random.Random) -> str:
    """A correction, clarification or editor's note (7 languages, 23 wordings)."""
    language = rng.choice(LANGUAGES)
    return _fill(rng.choice(_CORRECTIONS[language]), rng, language)


def update_note(rng: random.Random) -> str:
    """An update note ("Update, 5 p.m.: officials have since ...") (7 languages, 16 wordings)."""
    language = rng.choice(LANGUAGES)
    return _fill(rng.choice(_UPDATES[language]), rng, language)


_SENTENCES = [
    "The agency said on Tuesday that a further {a} inspections were planned before the end of the year.",
    "A spokesperson for the council said the decision would be reviewed in {a} days.",
    "Residents have until the end of the month to comment on the plans, which cover {a} streets.",
    "Die Stadt kündigte an, weitere {a} Bäume entlang des Ufers zu pflanzen.",
    "La préfecture a précisé que {a} agents supplémentaires seraient mobilisés ce week-end.",
    "El ayuntamiento confirmó que {a} familias recibirán la ayuda antes del verano.",
    "Il sindaco ha promesso che i lavori sul ponte riprenderanno entro {a} settimane.",
    "O governo regional prometeu investir {a} milhões de euros na rede ferroviária.",
    "В мэрии сообщили, что ремонт набережной продлится ещё {a} дней.",
    "Opposition members called for an independent inquiry into the {a} complaints received.",
    "Police said {a} people had been questioned and no arrests had been made.",
    "The company has denied any wrongdoing and said it would cooperate with the {a} investigators.",
]


def new_sentence(rng: random.Random) -> str:
    """A sentence of news prose to add to a story (12 wordings, 7 languages, a number drawn)."""
    return rng.choice(_SENTENCES).format(a=rng.randint(3, 900))


SHARED_NOTES = [
    "The company has denied any wrongdoing.",
    "This article is for general information only and does not constitute legal advice.",
    "Die Unschuldsvermutung gilt für alle Beschuldigten.",
    "La présomption d'innocence s'applique à toutes les personnes mises en cause.",
    "Los acusados gozan de la presunción de inocencia.",
    "Gli indagati sono da ritenersi innocenti fino a sentenza definitiva.",
    "Os arguidos beneficiam da presunção de inocência.",
    "Все обвиняемые считаются невиновными до решения суда.",
]
"""Paragraphs that several articles of one site share (disclaimers): the site-wide removal kind."""
