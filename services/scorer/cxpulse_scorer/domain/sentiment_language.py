"""Cheap language gate: the rules read English, so other languages are reported, not guessed.

Two signals, both linear in the text: the script (letters outside the Latin ranges) and a
stop-word vote between English and the most common Latin-script languages. Words that are
also English, or that appear in English travel and shopping text (place names such as "Los
Angeles", "Las Vegas", "Des Moines", "El Paso"; "I'm" written "im"), are left out of the
foreign lists so that they cannot outvote English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

ENGLISH_WORDS: Final[frozenset[str]] = frozenset(
    ["the", "a", "an", "and", "or", "but", "if", "so", "to", "of", "in", "on", "at", "by", "for", "from", "with", "about", "into", "over", "after", "before", "is", "are", "was", "were", "be", "been", "being", "am", "i", "i'm", "im", "me", "my", "mine", "we", "us", "our", "you", "your", "you're", "he", "she", "it", "it's", "its", "they", "them", "their", "this", "that", "these", "those", "there", "here", "what", "why", "how", "when", "where", "who", "which", "have", "has", "had", "having", "do", "does", "did", "done", "don't", "doesn't", "didn't", "can", "can't", "could", "would", "should", "will", "won't", "not", "no", "never", "just", "still", "again", "all", "any", "some", "every", "more", "most", "very", "really", "too", "only", "also", "get", "got", "getting", "go", "going", "went", "make", "made", "take", "took", "need", "want", "please", "thanks", "thank", "yes", "now", "today", "tomorrow", "yesterday", "flight", "bag", "order", "account", "service", "customer", "call", "phone", "app", "time", "hours", "minutes", "day", "days", "week", "help", "back", "out", "up", "down", "off", "one", "two", "three", "first", "last", "next", "as", "than", "then", "because", "while", "since", "until", "though", "even", "ever", "much", "many", "well", "let", "let's", "i've", "i'll", "i'd"]
)

_FOREIGN_WORDS: Final[frozenset[str]] = frozenset(
    ["que", "por", "para", "una", "uno", "muy", "pero", "está", "esta", "este", "estoy", "fue", "gracias", "vuelo", "hola", "mal", "bien", "nunca", "servicio", "también", "porque", "cuando", "como", "usted", "ustedes", "desde", "hasta", "todo", "todos", "hoy", "aquí", "más", "muchas", "equipaje", "retraso", "maleta", "excelente", "bueno", "malo", "pésimo", "atención", "de", "en", "es", "le", "du", "un", "une", "et", "pas", "je", "vous", "nous", "avec", "dans", "sur", "mais", "très", "merci", "bonjour", "votre", "vos", "toujours", "rien", "sont", "chez", "cette", "qui", "été", "où", "être", "avoir", "bagage", "retard", "aux", "beaucoup", "aide", "der", "das", "und", "ist", "nicht", "ich", "sie", "wir", "ein", "eine", "einen", "auf", "für", "von", "zu", "auch", "noch", "nur", "schon", "sehr", "aber", "danke", "bitte", "mein", "meine", "kein", "keine", "wie", "wenn", "oder", "haben", "wurde", "heute", "flug", "gepäck", "immer", "nach", "não", "nao", "muito", "obrigado", "obrigada", "voo", "você", "eu", "meu", "minha", "foi", "isso", "até", "pelo", "pela", "uma", "della", "delle", "che", "sono", "molto", "grazie", "questo", "questa", "anche", "ancora", "sempre", "perché", "nel", "alla", "dei", "servizio", "ottimo", "pessimo", "buono", "mille", "het", "een", "ik", "niet", "voor", "zijn", "naar", "maar", "ook", "nog", "bedankt", "geen", "vlucht", "mijn", "och", "är", "inte", "det", "för", "med", "på", "tidak", "saya", "untuk", "dengan", "terima", "kasih", "değil", "için", "çok", "teşekkürler", "się", "dla", "dziękuję"]
)

_LATIN_LETTER_RE: Final = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_NON_LATIN_LETTER_RE: Final = re.compile(r"[^\W\d_A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_DIACRITIC_LETTER_RE: Final = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")

# A text this long with no English word at all is not English, whatever its stop words.
_MIN_WORDS_FOR_ABSENCE_VOTE: Final = 6


def is_supported_language_tag(language: str) -> bool:
    return language.lower().split("-", 1)[0] == "en"


def is_probably_english(text: str, words: Iterable[str], known_english: int = 0) -> bool:
    """Decide on a text already clipped by the caller; `words` are its lower-cased word tokens.

    `known_english` counts words the caller recognised from its own English vocabulary
    (sentiment terms), which vote for English beside the stop words.
    """
    if not text.isascii():
        non_latin = len(_NON_LATIN_LETTER_RE.findall(text))
        if non_latin:
            latin = len(_LATIN_LETTER_RE.findall(text))
            if non_latin > latin:
                return False
    english = known_english
    foreign = 0
    word_count = 0
    for word in words:
        word_count += 1
        if word in ENGLISH_WORDS:
            english += 1
        elif word in _FOREIGN_WORDS:
            foreign += 1
    if not text.isascii():
        diacritics = len(_DIACRITIC_LETTER_RE.findall(text))
        if diacritics >= 2 and diacritics * 20 >= len(_LATIN_LETTER_RE.findall(text)):
            foreign += 1
    if foreign > english:
        return False
    return not (english == 0 and word_count >= _MIN_WORDS_FOR_ABSENCE_VOTE)
