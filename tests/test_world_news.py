"""Headlines per watched symbol: yfinance's `Ticker.news` faked at the network boundary in
the layout yfinance 1.x returns (and the older flat one), stored once, scored offline."""

from __future__ import annotations

from datetime import date

import pytest
import yfinance.exceptions as yfe
from curl_cffi.requests.exceptions import Timeout

from assistant.config import Settings
from assistant.cycle.context import world_context
from assistant.ingest.news import collect_news, parse
from assistant.ingest.sources.yahoo import YahooSource
from models import sentiment
from store import news as news_store
from store import symbols
from store.views.symbol import symbol_detail
from tests.test_data_yahoo import FakeTicker, FakeYF, at


def item(uid: str, title: str, when: str, provider: str = "Reuters") -> dict:
    """A news item as yfinance 1.x's Ticker.news returns it (the tickerStream layout)."""
    return {
        "id": uid,
        "content": {
            "id": uid,
            "contentType": "STORY",
            "title": title,
            "summary": "",
            "pubDate": when,
            "displayTime": when,
            "provider": {"displayName": provider, "url": "https://example.com"},
            "canonicalUrl": {"url": f"https://example.com/{uid}", "site": "finance"},
            "clickThroughUrl": {"url": f"https://example.com/{uid}"},
        },
    }


class NewsTicker(FakeTicker):
    @property
    def news(self):
        answer = self.yf.news_answers.get(self.symbol, [])
        self.yf.calls.append(("news", self.symbol))
        if isinstance(answer, Exception):
            raise answer
        return answer


class NewsYF(FakeYF):
    def __init__(self, answers: dict, news: dict):
        super().__init__(answers)
        self.news_answers = news

    def Ticker(self, symbol: str) -> NewsTicker:  # noqa: N802 - yfinance's name
        return NewsTicker(self, symbol)


def test_lexicon_scores_headlines():
    assert sentiment.score("Apple beats estimates and raises guidance") == 1.0
    assert sentiment.score("Tesla recalls 2 million cars over autopilot probe") == -1.0
    assert sentiment.score("Microsoft does not expect growth to slow") < 0
    assert sentiment.score("Nvidia misses on revenue, but margins improve") == 0.0
    assert sentiment.score("IBM to hold annual meeting on Tuesday") == 0.0


def test_parse_both_layouts():
    new = parse("AAPL", item("u1", "Apple beats", "2024-03-08T14:30:00Z"))
    assert new == (
        "AAPL",
        "u1",
        "2024-03-08T14:30:00+00:00",
        "Apple beats",
        "Reuters",
        "https://example.com/u1",
        1.0,
    )
    old = {
        "uuid": "u2",
        "title": "Apple shares fall",
        "publisher": "AP",
        "link": "https://example.com/u2",
        "providerPublishTime": 1709908200,
        "type": "STORY",
    }
    assert parse("AAPL", old)[1:4] == ("u2", "2024-03-08T14:30:00+00:00", "Apple shares fall")
    assert parse("AAPL", {"id": "x", "content": {"title": ""}}) is None


def test_news_is_collected_deduplicated_and_a_failure_writes_nothing(home, db):
    symbols.add(db, ["AAPL", "MSFT", "IBM"], "yahoo")
    yf = NewsYF(
        {},
        {
            "AAPL": [
                item("a1", "Apple beats estimates", "2024-03-07T14:30:00Z"),
                item("a2", "Apple faces EU probe", "2024-03-08T22:00:00Z"),  # after the close
                {"id": "ad", "content": {"title": None}},
            ],
            "MSFT": yfe.YFRateLimitError(),
        },
    )
    src = YahooSource(home, yf=yf)
    with at("2024-03-08 22:30:00+00:00"):  # the evening's collection
        got = {r.symbol: r for r in collect_news(db, src, ["AAPL", "MSFT", "IBM"])}
    assert got["AAPL"].added == 2 and got["MSFT"].status == "failed"
    assert "rate limit" in got["MSFT"].message
    assert got["IBM"].status == "failed" and ("news", "IBM") not in yf.calls  # not asked
    again = collect_news(db, YahooSource(home, yf=yf), ["AAPL"])
    assert again[0].added == 0 and again[0].status == "current"
    assert [n["title"] for n in news_store.recent(db, "AAPL")][:2] == [
        "Apple faces EU probe",
        "Apple beats estimates",
    ]
    assert news_store.recent(db, "MSFT") == []
    # a call as of 2024-03-08 (close 21:00 UTC) saw the first headline only; one published
    # before that close but collected days later was not known then
    yf.news_answers["AAPL"] = [item("a3", "Apple shares fall", "2024-03-08T15:00:00Z")]
    with at("2024-03-12 22:30:00+00:00"):
        collect_news(db, YahooSource(home, yf=yf), ["AAPL"])
    ctx = world_context(db, {"AAPL": date(2024, 3, 8)}, "XNYS")["AAPL"]
    assert ctx.news_n == 1 and ctx.news_sentiment == 1.0
    later = world_context(db, {"AAPL": date(2024, 3, 12)}, "XNYS")["AAPL"]
    assert later.news_n == 3 and later.news_sentiment == pytest.approx(-1 / 3)
    detail = symbol_detail(db, "AAPL")
    assert len(detail["news"]) == 3 and detail["news_days"] == 2
    assert detail["news_needed_days"] == news_store.MIN_HISTORY_DAYS


def test_sample_source_has_no_news(db):
    from assistant.ingest.sources.sample import SampleSource

    assert collect_news(db, SampleSource(), ["AAPL"]) == []


def test_the_daemons_collect_job_brings_series_and_news_and_their_failure_is_not_its_own(home, db):
    from assistant.daemon import jobs
    from tests.test_data_yahoo import yahoo_frame

    symbols.add(db, ["AAPL"], "yahoo")
    yf = NewsYF(
        {
            "AAPL": yahoo_frame("2023-03-01", "2024-03-07"),
            "^VIX": yahoo_frame("2023-03-01", "2024-03-07", base=13.0, adj=1.0),
            "^TNX": Timeout("Operation timed out after 10001 milliseconds"),
        },
        {"AAPL": [item("a1", "Apple beats estimates", "2024-03-07T14:30:00Z")]},
    )
    settings = Settings().replace("collect", source="yahoo", history_years=1)
    ctx = jobs.Context(db, home, settings, YahooSource(home, yf=yf))
    with at("2024-03-08 12:00:00+00:00"):
        _, summary = jobs.collect(ctx, lambda f, m: None)
    assert "1 added" in summary  # AAPL's bars
    assert "^VIX added +" in summary and "^TNX failed" in summary  # a timeout: said, not fatal
    assert "news +1 headlines" in summary
    assert news_store.recent(db, "AAPL")[0]["title"] == "Apple beats estimates"
