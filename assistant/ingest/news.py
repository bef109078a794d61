"""Collect headlines per watched symbol with the cycle (Yahoo's `Ticker.news`).

Each headline is stored once per symbol (keyed by Yahoo's id, else its link, else its
title) with its publish time in UTC and a sentiment from the lexicon in `models.sentiment`
(scored here, once; no network at scoring time). Yahoo answers the latest ten or so
headlines, so history accumulates from the day a symbol is watched: the models do not use
news until enough of it is stored (`store.news.MIN_HISTORY_DAYS`); the screens show it.
A failure for one symbol is its result, never the collection's failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

import pandas as pd
import sqlite_utils

from assistant.errors import NoDataError, TemporaryError
from assistant.ingest.sources.base import NewsSource, Source
from models import sentiment
from store import news as news_store


@dataclass
class NewsResult:
    symbol: str
    status: str  # added | current | failed
    added: int = 0
    message: str = ""

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


def parse(
    symbol: str, item: Mapping[str, object]
) -> tuple[str, str, str, str, object, object, float] | None:
    """One row (store.news.COLUMNS) from a yfinance news item: the 0.2.x flat layout
    (uuid, title, publisher, link, providerPublishTime) or the 1.x one (id, content{title,
    pubDate, provider, canonicalUrl}). None when it has no title or no publish time."""
    inner = item.get("content")
    content: Mapping[str, object] = inner if isinstance(inner, dict) else item
    title = str(content.get("title") or "").strip()
    when = content.get("pubDate") or content.get("displayTime")
    published = item.get("providerPublishTime")
    if when is None and isinstance(published, int | float | str):
        when = pd.Timestamp(int(published), unit="s", tz="UTC")
    if not title or not isinstance(when, str | int | float | datetime):
        return None  # none, or not a time (pd.Timestamp is a datetime)
    try:
        stamp = pd.Timestamp(when)
    except (ValueError, TypeError):
        return None
    stamp = stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
    provider = content.get("provider")
    publisher = provider.get("displayName") if isinstance(provider, dict) else item.get("publisher")
    url = content.get("canonicalUrl") or content.get("clickThroughUrl")
    link = url.get("url") if isinstance(url, dict) else item.get("link")
    key = str(item.get("id") or item.get("uuid") or content.get("id") or link or title)
    return (
        symbol,
        key,
        stamp.isoformat(timespec="seconds"),  # the store's one timestamp format
        title,
        publisher,
        link,
        sentiment.score(title),
    )


def collect_news(db: sqlite_utils.Database, source: Source, symbols: list[str]) -> list[NewsResult]:
    """Headlines for each symbol from a Yahoo source (its configured yfinance module)."""
    if source.name != "yahoo" or not isinstance(source, NewsSource):
        return []
    out = []
    for sym in symbols:
        try:  # after a rate limit the source asks nothing more this run
            items = source.news(sym)
        except (TemporaryError, NoDataError) as exc:
            out.append(NewsResult(sym, "failed", message=str(exc)))
            continue
        rows = [r for r in (parse(sym, i) for i in items if isinstance(i, dict)) if r]
        added = news_store.add_many(db, rows)
        out.append(NewsResult(sym, "added" if added else "current", added))
    return out
