"""Headline sentiment from a small finance lexicon: no network, no model file, same answer always.

A headline's score is (positive hits - negative hits) / (positive + negative hits), in
[-1, 1], 0 when no lexicon word occurs. A negator ("not", "no", "never", "without",
"fails to") flips the words of the next NEGATION_SPAN tokens. The word lists are short and
written for news headlines about listed companies (earnings, guidance, ratings, lawsuits);
general-purpose words that are neutral in finance ("liability", "tax", "cost") are left
out on purpose (Loughran & McDonald 2011 show general lexicons misread financial text).
"""

from __future__ import annotations

import re

NEGATION_SPAN = 3
NEGATORS = frozenset({"not", "no", "never", "without", "fails", "failed", "isn't", "wasn't"})
POSITIVE = frozenset(
    """
    beat beats beating tops topped surpass surpasses surpassed exceed exceeds exceeded
    record records strong stronger strongest robust solid gain gains gained rally rallies
    rallied surge surges surged soar soars soared jump jumps jumped climb climbs climbed rise
    rises rising rose upgrade upgrades upgraded outperform outperforms outperformed buy
    bullish optimistic optimism growth grow grows grew expand expands expanded expansion
    profit profits profitable profitability raise raises raised boost boosts boosted
    improve improves improved improvement rebound rebounds rebounded recover recovers
    recovered recovery win wins won approval approved approves breakthrough innovative
    dividend buyback buybacks upbeat higher high highs success successful accelerate
    accelerates accelerated momentum opportunity opportunities favorable positive
    """.split()
)
NEGATIVE = frozenset(
    """
    miss misses missed missing weak weaker weakest weakness fall falls fell falling drop drops
    dropped plunge plunges plunged slump slumps slumped sink sinks sank tumble tumbles
    tumbled slide slides slid decline declines declined declining loss losses lose loses
    losing lost downgrade downgrades downgraded underperform underperforms sell bearish
    pessimistic cut cuts cutting slash slashes slashed lower lowers lowered low lows warn
    warns warned warning recall recalls recalled lawsuit lawsuits sue sues sued probe probes
    investigation fraud scandal fine fined penalty layoff layoffs bankruptcy bankrupt default
    defaults halt halts halted delay delays delayed crash crashes crashed concern concerns
    worry worries worried risk risks risky fear fears slowdown recession downturn negative
    disappoint disappoints disappointed disappointing volatile volatility uncertainty
    """.split()
)
_TOKEN = re.compile(r"[a-z']+")


def score(text: str) -> float:
    """The headline's sentiment in [-1, 1] (0: no lexicon word)."""
    pos = neg = 0
    flip_left = 0
    for token in _TOKEN.findall(text.lower()):
        if token in NEGATORS:
            flip_left = NEGATION_SPAN
            continue
        sign = 1 if token in POSITIVE else -1 if token in NEGATIVE else 0
        if flip_left:
            sign, flip_left = -sign, flip_left - 1
        pos += sign > 0
        neg += sign < 0
    return 0.0 if pos + neg == 0 else (pos - neg) / (pos + neg)
