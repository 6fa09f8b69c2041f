"""Word lists behind the CX sentiment rules, written by hand from customer-experience knowledge.

Valences are on a -3..3 scale. They are deliberately not fitted to any data set: the rules must
carry over to brands and channels nobody measured, and calibration on a user's own labels is
the supported way to adapt them (see `sentiment_calibrated`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final


def _same_valence(valence: float, words: Iterable[str]) -> dict[str, float]:
    return dict.fromkeys(words, valence)


def _merge(*tables: dict[str, float]) -> dict[str, float]:
    merged: dict[str, float] = {}
    for table in tables:
        merged.update(table)
    return merged


# General sentiment: flipped by negation, amplified by intensifiers, damped in questions.
SENTIMENT_WORDS: Final[dict[str, float]] = _merge(
    _same_valence(3.0, ["best", "outstanding", "superb", "exceptional", "phenomenal", "stellar", "flawless"]),
    _same_valence(
        2.8,
        [
            "awesome", "amazing", "excellent", "fantastic", "wonderful", "brilliant", "love", "loved",
            "delighted", "thrilled", "superstar", "perfection",
        ],
    ),
    _same_valence(
        2.5,
        [
            "great", "perfect", "loving", "legend", "legends", "hero", "heroes", "spotless", "beautiful",
            "gorgeous", "stunning", "woohoo", "lovely", "incredible", "terrific", "fabulous", "marvellous",
            "marvelous", "exemplary", "rocks", "rockstar", "rockstars",
        ],
    ),
    _same_valence(
        2.2,
        [
            "happy", "impressed", "impressive", "seamless", "grateful", "yay", "hooray", "bravo",
            "congrats", "congratulations", "enjoyed", "pleasure", "awesomeness", "attentive", "caring",
        ],
    ),
    _same_valence(
        2.0,
        [
            "glad", "pleased", "helpful", "friendly", "courteous", "efficient", "smooth", "smoothly",
            "comfortable", "comfy", "reliable", "recommend", "recommended", "enjoy", "enjoyable",
            "pleasant", "gem", "kind", "kindness", "easiest", "fun", "excited", "thoughtful",
            "recommending", "painless", "effortless",
        ],
    ),
    _same_valence(
        1.7,
        [
            "good", "nice", "polite", "satisfied", "speedy", "prompt", "upgraded", "worth",
            "professional", "patient", "solved", "knowledgeable", "cool", "sweet", "safe", "safely",
            "accommodating", "generous", "responsive", "spacious", "win", "winning",
        ],
    ),
    _same_valence(
        1.4,
        [
            "quick", "quickly", "fast", "easy", "easier", "clean", "better", "improved", "resolved",
            "promptly", "fixed", "sorted", "tidy", "welcoming", "warm", "convenient",
            "upgrade", "complimentary", "wow", "handy", "intuitive", "clear", "cheers",
        ],
    ),
    _same_valence(1.0, ["decent", "rock", "simple", "bonus"]),
    _same_valence(1.0, ["early"]),
    _same_valence(0.5, ["fine", "ok", "okay", "alright", "fair"]),
    _same_valence(-0.5, ["meh", "cold", "basic", "pricey"]),
    _same_valence(-0.3, ["average"]),
    _same_valence(
        -1.0,
        [
            "problem", "problems", "trouble", "troubles", "issue", "issues", "confused", "mediocre",
            "expensive", "lacking", "complain", "complaining", "worried", "concerned", "unclear",
            "sick", "tired", "boo", "yikes", "unbelievable", "seriously", "cramped", "tiny", "noisy",
        ],
    ),
    _same_valence(
        -1.5,
        [
            "slow", "confusing", "complicated", "difficult", "hassle", "inconvenience", "inconvenient",
            "complaint", "complaints", "smh", "ugh", "argh", "stress", "stressed", "annoyance",
            "uncomfortable", "joke", "poorly", "dirty", "stale", "bland", "crying", "cry",
        ],
    ),
    _same_valence(
        -1.8,
        [
            "bad", "poor", "annoyed", "annoying", "upset", "frustration", "sad", "mess", "chaos",
            "hell", "misleading", "avoid", "stressful", "lie", "lies", "ignored", "ignoring", "lazy",
            "dismissive", "overpriced", "smelly", "dissatisfied", "unsatisfied", "displeased",
        ],
    ),
    _same_valence(
        -2.2,
        [
            "disappointed", "disappointing", "disappointment", "frustrated", "frustrating", "unhappy",
            "ridiculous", "hate", "hated", "sucks", "suck", "sucked", "crap", "crappy", "rubbish",
            "trash", "garbage", "lousy", "wtf", "fail", "failed", "fails", "failure", "regret", "beware",
            "lied", "shocking", "worse", "waste", "wasted", "wasting", "absurd", "angry", "unhelpful", "clueless", "condescending",
            "arrogant", "unprofessional", "filthy", "insulting", "insult",
        ],
    ),
    _same_valence(
        -2.6,
        [
            "terrible", "horrible", "awful", "horrendous", "dreadful", "pathetic", "useless",
            "unacceptable", "nightmare", "disgrace", "disgraceful", "disgusting", "appalling", "rude",
            "incompetent", "miserable", "furious", "livid", "scam", "scammed", "ripoff", "liar", "liars",
            "epicfail", "atrocious", "abysmal", "inexcusable", "outrageous", "fraud",
        ],
    ),
    _same_valence(-3.0, ["worst", "worstairline", "worstservice", "neveragain"]),
)

# Customer-experience events: negative without any sentiment word. Negation softens them into a
# mild positive ("no delays"), but questions do not damp them (a question about a cancelled
# flight is still about a cancelled flight).
COMPLAINT_WORDS: Final[dict[str, float]] = _merge(
    _same_valence(
        -1.6,
        [
            "delay", "delays", "delayed", "delaying", "cancelled", "canceled", "cancellation",
            "cancellations", "lost", "damaged", "stranded", "stolen", "outage", "outages", "overcharged",
            "defective", "faulty", "smashed", "overbooked", "misconnect", "misconnected", "crashed",
            "crashing", "crashes", "unreachable", "broken",
        ],
    ),
    _same_valence(
        -1.2,
        [
            "late", "missing", "stuck", "missed", "glitch", "glitches", "buggy", "error", "errors",
            "declined", "wrong", "incorrect", "mistake", "leaking", "leaked", "soaked", "expired",
            "undercooked", "burnt", "torn", "ripped", "diverted", "disconnected", "downtime", "freezes",
            "froze", "frozen", "lag", "lagging", "bumped", "waited", "owe", "owes", "owed", "unable",
            "nobody", "hung", "scratched", "dented", "cracked", "bent", "spilled", "spilt",
            "chargeback", "dispute", "overdue", "postponed", "loops", "looping", "losing", "lose",
            "loses",
        ],
    ),
    _same_valence(
        -0.8,
        [
            "waiting", "charged", "fee", "fees", "refund", "refunds", "bug", "bugs", "crash", "overnight",
            "tarmac", "hidden", "queue", "queues", "queuing", "queueing", "compensation", "lateness",
            "urgent", "urgently", "chasing", "chased", "escalate", "escalated", "runaround", "loop",
            "dropped", "transferred", "rescheduled", "still",
        ],
    ),
    _same_valence(-0.6, ["nothing"]),
    _same_valence(-0.4, ["wait", "cancel", "cancelling", "canceling", "asap", "emergency", "twice"]),
)

# Verbs that describe a service failure when negated: "didn't arrive", "can't log in".
FAILURE_VERBS: Final[frozenset[str]] = frozenset(
    ["work", "works", "worked", "working", "load", "loads", "loading", "arrive", "arrives", "arrived", "arriving", "show", "shows", "showed", "shown", "showing", "receive", "received", "receiving", "get", "got", "gotten", "getting", "deliver", "delivers", "delivered", "delivering", "answer", "answers", "answered", "answering", "respond", "responds", "responded", "responding", "reply", "replies", "replied", "replying", "call", "called", "calling", "hear", "heard", "help", "helps", "helped", "helping", "fix", "fixed", "resolve", "resolved", "refund", "refunded", "log", "login", "logging", "access", "connect", "connects", "connected", "connecting", "open", "opens", "opened", "reach", "reached", "process", "processed", "ship", "shipped", "turn", "turned", "make", "made", "come", "came", "update", "updated", "send", "sent", "return", "returned", "honor", "honored", "honour", "honoured", "pick", "picked", "board", "boarded", "book", "booked", "sign", "signing", "pay", "paying", "contact", "contacted", "find", "found", "track", "tracking", "tell", "telling", "told", "notify", "notifying", "notified", "inform", "informing", "informed", "warn", "warning", "warned", "ask", "asking", "asked", "let", "letting", "print", "redeem", "acknowledge", "acknowledged", "credit", "credited", "explain", "explained", "bother", "bothered", "care", "cares", "solve", "solved", "sort", "sorted", "compensate", "compensated", "apologize", "apologise", "apologized", "apologised", "happen", "happened", "move", "moving", "go", "going", "leave", "left", "land", "landed", "take", "took"]
)

# Things a customer expects to receive; "no X" / "without X" is a complaint on its own.
EXPECTED_NOUNS: Final[frozenset[str]] = frozenset(
    ["response", "responses", "reply", "replies", "answer", "answers", "update", "updates", "info", "information", "explanation", "explanations", "help", "assistance", "support", "call", "calls", "callback", "email", "emails", "contact", "compensation", "refund", "apology", "communication", "announcement", "announcements", "notice", "notification", "warning", "food", "water", "drinks", "ac", "air", "aircon", "wifi", "power", "signal", "service", "internet", "connection", "hotel", "voucher", "vouchers", "accommodation", "sign", "record", "seat", "seats", "agent", "agents", "staff", "one", "idea", "clue", "confirmation", "tracking", "option", "options", "alternative", "alternatives", "way", "follow", "feedback", "acknowledgement", "resolution", "progress", "news", "word", "luck", "legroom", "space", "reason", "solution", "heat", "heating", "light", "lights", "toilet", "communication", "customer", "person", "human", "representative", "rep", "reps", "show", "status"]
)

# "no X" where X is itself a complaint means the complaint did not happen.
NEGATED_COMPLAINT_IS_GOOD: Final[float] = -0.35

NEGATORS: Final[frozenset[str]] = frozenset(
    ["not", "no", "never", "without", "nothing", "nobody", "none", "neither", "nor", "hardly", "barely", "zero", "cannot", "isn't", "aren't", "wasn't", "weren't", "don't", "doesn't", "didn't", "won't", "wouldn't", "can't", "couldn't", "shouldn't", "haven't", "hasn't", "hadn't", "ain't", "isnt", "arent", "wasnt", "werent", "dont", "doesnt", "didnt", "wont", "wouldnt", "cant", "couldnt", "shouldnt", "havent", "hasnt", "hadnt", "aint", "mustn't", "needn't"]
)
NEGATION_SCOPE_TOKENS: Final = 3
# Events are only negated up close ("no delays", "wasn't cancelled"); further away the negation
# is about something else ("can't believe you lost my bag").
EVENT_NEGATION_SCOPE_TOKENS: Final = 2

# Multipliers for the next sentiment-bearing token.
INTENSIFIERS: Final[dict[str, float]] = _merge(
    _same_valence(
        1.4,
        [
            "extremely", "absolutely", "incredibly", "utterly", "totally", "completely", "insanely",
            "ridiculously", "exceptionally", "remarkably", "hugely", "massively", "beyond", "truly",
            "thoroughly", "unbelievably", "seriously",
        ],
    ),
    _same_valence(1.3, ["very", "really", "so", "super", "such", "most", "highly", "especially", "deeply"]),
    _same_valence(1.15, ["too", "quite", "pretty", "just"]),
    _same_valence(0.6, ["slightly", "somewhat", "kinda", "kindof", "sorta", "fairly", "mildly", "bit", "little"]),
)

GRATITUDE_WORDS: Final[dict[str, float]] = {
    "thanks": 2.0,
    "thank": 2.0,
    "thankyou": 2.0,
    "thx": 1.8,
    "thnx": 1.8,
    "thanx": 1.8,
    "tnx": 1.8,
    "ty": 1.5,
    "tysm": 2.4,
    "appreciate": 2.0,
    "appreciated": 2.0,
    "appreciates": 2.0,
    "appreciation": 2.0,
    "kudos": 2.4,
    "props": 1.6,
    "shoutout": 1.8,
    "grateful": 2.2,
}

# Fixed phrases that also mark the praise around them as sarcastic.
SARCASTIC_FIXED_PHRASES: Final[frozenset[tuple[str, ...]]] = frozenset(
    [("so", "much", "for"), ("yeah", "right")]
)

# Phrases: (tokens, valence, kind). Matched longest-first before single words.
KIND_SENTIMENT: Final = "sentiment"
KIND_COMPLAINT: Final = "complaint"
KIND_FIXED: Final = "fixed"
KIND_SARCASM_CUE: Final = "sarcasm"
KIND_GRATITUDE: Final = "gratitude"

_PHRASE_TABLE: Final[list[tuple[str, float, str]]] = [
    # complaints whose meaning includes the negation
    ("no response", -1.8, KIND_FIXED),
    ("no reply", -1.8, KIND_FIXED),
    ("no answer", -1.6, KIND_FIXED),
    ("no one", -1.2, KIND_FIXED),
    ("never again", -2.8, KIND_FIXED),
    ("never heard back", -2.0, KIND_FIXED),
    ("not working", -1.8, KIND_FIXED),
    ("stopped working", -1.8, KIND_FIXED),
    ("doesn't work", -1.8, KIND_FIXED),
    ("does not work", -1.8, KIND_FIXED),
    ("won't load", -1.6, KIND_FIXED),
    ("still waiting", -2.2, KIND_FIXED),
    ("still no", -1.6, KIND_FIXED),
    ("still not", -1.4, KIND_FIXED),
    ("still haven't", -1.6, KIND_FIXED),
    ("still hasn't", -1.6, KIND_FIXED),
    ("still nothing", -1.8, KIND_FIXED),
    ("still down", -1.8, KIND_FIXED),
    ("still broken", -1.8, KIND_FIXED),
    ("still missing", -1.8, KIND_FIXED),
    ("still stuck", -1.8, KIND_FIXED),
    ("still on hold", -2.0, KIND_FIXED),
    ("on hold", -1.6, KIND_COMPLAINT),
    ("hold music", -1.4, KIND_COMPLAINT),
    ("out of order", -1.6, KIND_COMPLAINT),
    ("was told", -0.8, KIND_COMPLAINT),
    ("were told", -0.8, KIND_COMPLAINT),
    ("keep changing", -1.2, KIND_COMPLAINT),
    ("keeps changing", -1.2, KIND_COMPLAINT),
    ("dropped out", -1.4, KIND_COMPLAINT),
    ("drops out", -1.4, KIND_COMPLAINT),
    ("takes forever", -1.8, KIND_COMPLAINT),
    ("taking forever", -1.8, KIND_COMPLAINT),
    ("took forever", -1.8, KIND_COMPLAINT),
    ("not what i ordered", -1.6, KIND_FIXED),
    ("not as described", -1.6, KIND_FIXED),
    ("not what i expected", -1.2, KIND_FIXED),
    ("hung up", -2.0, KIND_COMPLAINT),
    ("hang up", -1.4, KIND_COMPLAINT),
    ("hanging up", -1.6, KIND_COMPLAINT),
    ("charged twice", -2.2, KIND_COMPLAINT),
    ("billed twice", -2.2, KIND_COMPLAINT),
    ("double charged", -2.2, KIND_COMPLAINT),
    ("charged me twice", -2.2, KIND_COMPLAINT),
    ("double billed", -2.2, KIND_COMPLAINT),
    ("money back", -1.4, KIND_COMPLAINT),
    ("my money back", -1.6, KIND_COMPLAINT),
    ("my money", -0.8, KIND_COMPLAINT),
    ("is down", -1.6, KIND_COMPLAINT),
    ("are down", -1.6, KIND_COMPLAINT),
    ("been down", -1.6, KIND_COMPLAINT),
    ("went down", -1.4, KIND_COMPLAINT),
    ("goes down", -1.4, KIND_COMPLAINT),
    ("down again", -1.8, KIND_COMPLAINT),
    ("down since", -1.6, KIND_COMPLAINT),
    ("down all", -1.6, KIND_COMPLAINT),
    ("keeps crashing", -2.0, KIND_COMPLAINT),
    ("keeps dropping", -1.8, KIND_COMPLAINT),
    ("keeps freezing", -1.8, KIND_COMPLAINT),
    ("keep getting", -0.8, KIND_COMPLAINT),
    ("keeps asking", -0.8, KIND_COMPLAINT),
    ("rip off", -2.4, KIND_COMPLAINT),
    ("ripped off", -2.4, KIND_COMPLAINT),
    ("fed up", -2.2, KIND_COMPLAINT),
    ("sick of", -2.0, KIND_COMPLAINT),
    ("tired of", -1.8, KIND_COMPLAINT),
    ("had enough", -1.8, KIND_COMPLAINT),
    ("i'm done", -1.6, KIND_COMPLAINT),
    ("im done", -1.6, KIND_COMPLAINT),
    ("i am done", -1.6, KIND_COMPLAINT),
    ("done with", -1.6, KIND_COMPLAINT),
    ("gave my seat", -1.6, KIND_COMPLAINT),
    ("gave away my", -1.6, KIND_COMPLAINT),
    ("left behind", -1.4, KIND_COMPLAINT),
    ("left without", -1.2, KIND_COMPLAINT),
    ("showed up late", -1.0, KIND_COMPLAINT),
    ("never showed", -1.8, KIND_FIXED),
    ("never arrived", -1.8, KIND_FIXED),
    ("never received", -1.8, KIND_FIXED),
    ("never happened", -1.6, KIND_FIXED),
    ("marked delivered", -1.4, KIND_COMPLAINT),
    ("marked as delivered", -1.4, KIND_COMPLAINT),
    ("says delivered", -1.4, KIND_COMPLAINT),
    ("shows delivered", -1.4, KIND_COMPLAINT),
    ("wrong item", -1.4, KIND_COMPLAINT),
    ("gate change", -0.6, KIND_COMPLAINT),
    ("missed connection", -1.6, KIND_COMPLAINT),
    ("missed my", -1.6, KIND_COMPLAINT),
    ("going in circles", -1.6, KIND_COMPLAINT),
    ("run around", -1.4, KIND_COMPLAINT),
    ("passed around", -1.2, KIND_COMPLAINT),
    ("back and forth", -1.0, KIND_COMPLAINT),
    ("call back", -0.6, KIND_COMPLAINT),
    ("where is my", -0.9, KIND_FIXED),
    ("where's my", -0.9, KIND_FIXED),
    ("wheres my", -0.9, KIND_FIXED),
    ("how come", -1.0, KIND_FIXED),
    ("how hard is it", -1.6, KIND_FIXED),
    ("how difficult is it", -1.6, KIND_FIXED),
    ("how is it possible", -1.4, KIND_FIXED),
    ("how is this possible", -1.4, KIND_FIXED),
    ("how many times", -1.6, KIND_FIXED),
    ("how much longer", -1.6, KIND_FIXED),
    ("what happened to", -0.8, KIND_FIXED),
    ("what is going on", -1.2, KIND_FIXED),
    ("what's going on", -1.2, KIND_FIXED),
    ("whats going on", -1.2, KIND_FIXED),
    ("are you kidding", -2.0, KIND_FIXED),
    ("kidding me", -2.0, KIND_FIXED),
    ("are you serious", -1.6, KIND_FIXED),
    ("is this a joke", -2.2, KIND_FIXED),
    ("what a joke", -2.2, KIND_FIXED),
    ("so much for", -1.6, KIND_FIXED),
    ("yeah right", -1.6, KIND_FIXED),
    ("thanks for nothing", -2.6, KIND_FIXED),
    ("thank you for nothing", -2.6, KIND_FIXED),
    ("nothing special", -0.6, KIND_FIXED),
    ("can't believe", -1.2, KIND_FIXED),
    ("cant believe", -1.2, KIND_FIXED),
    ("cannot believe", -1.2, KIND_FIXED),
    ("nothing to complain", 1.4, KIND_FIXED),
    ("nothing wrong", 0.6, KIND_FIXED),
    ("not worth", -1.8, KIND_FIXED),
    ("could be better", -1.0, KIND_FIXED),
    ("could have been better", -1.2, KIND_FIXED),
    ("could've been better", -1.2, KIND_FIXED),
    ("not great", -1.4, KIND_FIXED),
    ("not good", -1.6, KIND_FIXED),
    ("not happy", -1.8, KIND_FIXED),
    ("not impressed", -1.8, KIND_FIXED),
    ("not helpful", -1.6, KIND_FIXED),
    ("no help", -1.6, KIND_FIXED),
    ("no way", -0.8, KIND_FIXED),
    ("no idea", -0.8, KIND_FIXED),
    ("no clue", -1.0, KIND_FIXED),
    ("so so", -0.4, KIND_FIXED),
    # praise whose meaning includes the negation
    ("no problem", 1.0, KIND_FIXED),
    ("no problems", 1.2, KIND_FIXED),
    ("no issue", 0.9, KIND_FIXED),
    ("no issues", 1.2, KIND_FIXED),
    ("no complaints", 1.6, KIND_FIXED),
    ("no complaint", 1.4, KIND_FIXED),
    ("no worries", 0.6, KIND_FIXED),
    ("no hassle", 1.4, KIND_FIXED),
    ("no fuss", 1.4, KIND_FIXED),
    ("not bad", 1.0, KIND_FIXED),
    ("not too bad", 0.9, KIND_FIXED),
    ("never had a problem", 2.2, KIND_FIXED),
    ("never had an issue", 2.2, KIND_FIXED),
    ("never had any problems", 2.2, KIND_FIXED),
    ("never disappoints", 2.4, KIND_FIXED),
    ("never disappoint", 2.2, KIND_FIXED),
    ("never fails to", 1.6, KIND_FIXED),
    ("can't complain", 1.2, KIND_FIXED),
    ("cant complain", 1.2, KIND_FIXED),
    ("can't wait", 1.6, KIND_FIXED),
    ("cant wait", 1.6, KIND_FIXED),
    ("cannot wait", 1.6, KIND_FIXED),
    ("can't thank", 2.6, KIND_FIXED),
    ("cant thank", 2.6, KIND_FIXED),
    ("cannot thank", 2.6, KIND_FIXED),
    ("couldn't be happier", 3.0, KIND_FIXED),
    ("couldnt be happier", 3.0, KIND_FIXED),
    ("could not be happier", 3.0, KIND_FIXED),
    ("couldn't be better", 2.6, KIND_FIXED),
    ("could not be better", 2.6, KIND_FIXED),
    ("couldn't ask for", 2.2, KIND_FIXED),
    ("nothing but praise", 2.8, KIND_FIXED),
    # praise phrases
    ("thank you so much", 2.6, KIND_GRATITUDE),
    ("thank you very much", 2.6, KIND_GRATITUDE),
    ("thanks so much", 2.6, KIND_GRATITUDE),
    ("thanks very much", 2.4, KIND_GRATITUDE),
    ("many thanks", 2.4, KIND_GRATITUDE),
    ("big thanks", 2.4, KIND_GRATITUDE),
    ("handled well", 1.8, KIND_SENTIMENT),
    ("went well", 1.8, KIND_SENTIMENT),
    ("really well", 1.8, KIND_SENTIMENT),
    ("very well", 1.6, KIND_SENTIMENT),
    ("so well", 1.8, KIND_SENTIMENT),
    ("works well", 1.8, KIND_SENTIMENT),
    ("worked well", 1.8, KIND_SENTIMENT),
    ("on time", 1.4, KIND_SENTIMENT),
    ("ahead of schedule", 1.8, KIND_SENTIMENT),
    ("above and beyond", 2.8, KIND_SENTIMENT),
    ("went the extra mile", 2.8, KIND_SENTIMENT),
    ("extra mile", 2.4, KIND_SENTIMENT),
    ("made my day", 2.8, KIND_SENTIMENT),
    ("top notch", 2.8, KIND_SENTIMENT),
    ("well done", 2.2, KIND_SENTIMENT),
    ("nice work", 2.2, KIND_SENTIMENT),
    ("good work", 2.2, KIND_SENTIMENT),
    ("great work", 2.6, KIND_SENTIMENT),
    ("good job", 2.2, KIND_SENTIMENT),
    ("great job", 2.6, KIND_SENTIMENT),
    ("nice job", 2.2, KIND_SENTIMENT),
    ("great service", 2.8, KIND_SENTIMENT),
    ("good service", 2.2, KIND_SENTIMENT),
    ("shout out", 1.8, KIND_SENTIMENT),
    ("you rock", 2.4, KIND_SENTIMENT),
    ("you guys rock", 2.6, KIND_SENTIMENT),
    ("got me home", 1.8, KIND_SENTIMENT),
    ("got us home", 1.8, KIND_SENTIMENT),
    ("sorted it", 1.6, KIND_SENTIMENT),
    ("sorted out", 1.6, KIND_SENTIMENT),
    ("sorted everything", 1.8, KIND_SENTIMENT),
    ("took care of", 1.8, KIND_SENTIMENT),
    ("taken care of", 1.6, KIND_SENTIMENT),
    ("kept us informed", 1.8, KIND_SENTIMENT),
    ("kept me informed", 1.8, KIND_SENTIMENT),
    ("kept us updated", 1.8, KIND_SENTIMENT),
    ("keeping me posted", 1.6, KIND_SENTIMENT),
    ("keeping us posted", 1.6, KIND_SENTIMENT),
    ("keeping me updated", 1.6, KIND_SENTIMENT),
    ("will be back", 1.6, KIND_SENTIMENT),
    ("will definitely", 1.0, KIND_SENTIMENT),
    ("would recommend", 2.2, KIND_SENTIMENT),
    ("highly recommend", 2.8, KIND_SENTIMENT),
    ("worth it", 2.0, KIND_SENTIMENT),
    ("worth every", 2.4, KIND_SENTIMENT),
    ("happy customer", 2.6, KIND_SENTIMENT),
    ("fast delivery", 1.8, KIND_SENTIMENT),
    ("quick delivery", 1.8, KIND_SENTIMENT),
    ("kept their word", 2.0, KIND_SENTIMENT),
    ("deserves a raise", 2.4, KIND_SENTIMENT),
    ("deserve a raise", 2.4, KIND_SENTIMENT),
    ("deserves a medal", 2.4, KIND_SENTIMENT),
    ("deserves a promotion", 2.4, KIND_SENTIMENT),
    # sarcasm cues: praise that only reads as praise without a complaint nearby
    ("gotta love", 1.8, KIND_SARCASM_CUE),
    ("got to love", 1.8, KIND_SARCASM_CUE),
    ("love how", 1.8, KIND_SARCASM_CUE),
    ("love that", 1.8, KIND_SARCASM_CUE),
    ("love it when", 1.8, KIND_SARCASM_CUE),
    ("love when", 1.8, KIND_SARCASM_CUE),
    ("love being", 1.8, KIND_SARCASM_CUE),
    ("just great", 1.8, KIND_SARCASM_CUE),
    ("just perfect", 1.8, KIND_SARCASM_CUE),
    ("oh great", 1.8, KIND_SARCASM_CUE),
    ("oh good", 1.4, KIND_SARCASM_CUE),
    ("great start", 1.8, KIND_SARCASM_CUE),
    ("way to go", 1.8, KIND_SARCASM_CUE),
    ("thanks a lot", 2.0, KIND_SARCASM_CUE),
    ("thanks a bunch", 2.0, KIND_SARCASM_CUE),
    ("thanks again", 2.0, KIND_SARCASM_CUE),
    ("really appreciate it", 2.2, KIND_SARCASM_CUE),
    ("appreciate it", 2.0, KIND_SARCASM_CUE),
    ("real nice", 1.6, KIND_SARCASM_CUE),
    ("real smooth", 1.6, KIND_SARCASM_CUE),
    ("nice one", 1.6, KIND_SARCASM_CUE),
    ("sarcasm", 0.0, KIND_SARCASM_CUE),
]


def _build_phrases() -> dict[str, list[tuple[tuple[str, ...], float, str]]]:
    phrases: dict[str, list[tuple[tuple[str, ...], float, str]]] = {}
    for text, valence, kind in _PHRASE_TABLE:
        words = tuple(text.split())
        phrases.setdefault(words[0], []).append((words, valence, kind))
    for candidates in phrases.values():
        candidates.sort(key=lambda candidate: len(candidate[0]), reverse=True)
    return phrases


PHRASES: Final[dict[str, list[tuple[tuple[str, ...], float, str]]]] = _build_phrases()

# A stated duration ("3 hours", "45 mins") reads as time lost, more so beside one of these.
DURATION_UNITS: Final[frozenset[str]] = frozenset(
    ["hour", "hours", "hr", "hrs", "h", "minute", "minutes", "min", "mins", "m", "day", "days", "week", "weeks", "month", "months"]
)
COUNT_WORDS: Final[frozenset[str]] = frozenset(
    ["a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "ninety", "few", "several", "couple", "many", "multiple", "half"]
)
OPEN_ENDED_DURATIONS: Final[frozenset[str]] = frozenset(["hours", "days", "weeks", "months", "ages", "forever"])
ALL_DAY_WORDS: Final[frozenset[str]] = frozenset(["day", "morning", "night", "afternoon", "evening", "week", "weekend"])
NOT_A_WAIT_PREFIXES: Final[frozenset[str]] = frozenset(
    ["opening", "business", "office", "working", "operating", "visiting", "store", "happy", "peak", "off"]
)
FAST_DURATION_PREFIXES: Final[frozenset[str]] = frozenset(["in", "within", "under", "only", "just"])
DELAY_CONTEXT: Final[frozenset[str]] = frozenset(
    ["delay", "delays", "delayed", "late", "wait", "waited", "waiting", "hold", "stuck", "sitting", "sat", "sit", "tarmac", "stranded", "line", "queue", "queues", "queuing", "standing", "stood", "circling", "grounded", "later", "behind", "still", "since", "overdue", "taking", "took", "takes", "spent", "wasted", "been", "lost", "missing", "gate", "nobody", "no", "nothing", "again"]
)

# Repetition reads as a complaint next to other complaints or repeated contact.
ORDINAL_WORDS: Final[frozenset[str]] = frozenset(
    ["second", "third", "fourth", "fifth", "sixth", "2nd", "3rd", "4th", "5th", "6th", "nth", "umpteenth", "another"]
)
CONTACT_VERBS: Final[frozenset[str]] = frozenset(
    ["called", "call", "calling", "emailed", "email", "asked", "ask", "tried", "trying", "contacted", "chased", "chasing", "explained", "reported", "written", "wrote", "messaged", "message", "dm", "dmed", "tweeted", "phoned", "rang", "complained", "transferred"]
)
RETURN_INTENT_WORDS: Final[frozenset[str]] = frozenset(["would", "will", "i'll", "ill", "definitely", "we'll"])
CONTRAST_WORDS: Final[frozenset[str]] = frozenset(["but", "however", "yet"])

# Emoji and emoticons, read the way customers use them in complaints and praise.
EMOJI_VALENCE: Final[dict[str, float]] = _merge(
    _same_valence(
        2.2,
        [
            "😍", "🥰", "😘", "❤", "♥", "💕", "💖", "💗", "💙", "💚", "💜", "💛", "🧡", "😻", "🤩",
            "💯", "🙌", "👏", "🎉", "🥳", "🏆", "🌟", "⭐", "✨", "<3",
        ],
    ),
    _same_valence(1.8, ["😀", "😃", "😄", "😁", "😊", "☺", "🙂", "😎", "😇", "👍", "👌", "💪", "🤗", "😋", "✅"]),
    _same_valence(1.4, ["🙏", "😌", "😉", "🤞", ":)", ":-)", "=)", ":d", ":-d", ";)", ";-)", ":p"]),
    _same_valence(
        -1.6,
        [
            "😕", "🙁", "☹", "😟", "😐", "😑", "😬", "🤔", "😴", "🥱", "😓", "😥", ":/", ":-/", ":|", "😶",
        ],
    ),
    _same_valence(
        -2.2,
        [
            "😞", "😔", "😢", "😭", "😩", "😫", "😒", "🙄", "👎", "💔", "😣", "😖", "🤦", "😱", "😨",
            "😰", "😪", ":(", ":-(", ":'(", "🤷",
        ],
    ),
    _same_valence(-2.8, ["😡", "😠", "🤬", "😤", "🤮", "🤢", "💩", "🖕", "😾"]),
)
