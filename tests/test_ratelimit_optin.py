"""Client-side rate limit (scenario 9) and the two opt-ins for live trading (scenario 21)."""

from __future__ import annotations

import pytest

from bot.alpaca.ratelimit import RateLimiter
from bot.alpaca.trading import AlpacaApi, LiveTradingRefused, trading_base_url
from bot.settings import LIVE_TRADING_URL, PAPER_TRADING_URL, AlpacaConfig


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_never_more_than_the_limit_in_any_60s_window() -> None:
    clock = FakeClock()
    lim = RateLimiter(120, clock=clock, sleep=clock.sleep)
    stamps = []
    for i in range(500):
        lim.acquire()
        stamps.append(clock.t)
        clock.t += 0.05 if i % 7 else 0.0  # bursts: many requests at the same instant
    # check every window [t, t+60) by brute force (independent of the limiter's deque)
    for i, t in enumerate(stamps):
        in_window = sum(1 for u in stamps[i:] if u < t + 60.0)
        assert in_window <= 120
    # and it did not slow down more than needed: 500 requests need at least 4 windows
    assert stamps[-1] - stamps[0] >= 3 * 60.0


def test_limit_is_configurable_and_capped_below_alpaca() -> None:
    with pytest.raises(ValueError):
        AlpacaConfig(max_requests_per_minute=250)  # Alpaca allows 200/min: never above it
    assert AlpacaConfig().max_requests_per_minute == 120


@pytest.mark.parametrize(
    ("allow_live", "flag", "expected"),
    [
        (False, False, PAPER_TRADING_URL),
        (True, False, PAPER_TRADING_URL),  # config alone is not enough
        (True, True, LIVE_TRADING_URL),  # both opt-ins
    ],
)
def test_paper_unless_two_opt_ins(allow_live: bool, flag: bool, expected: str) -> None:
    assert trading_base_url(AlpacaConfig(allow_live=allow_live), flag) == expected


def test_live_flag_without_config_is_refused() -> None:
    with pytest.raises(LiveTradingRefused, match="allow_live"):
        trading_base_url(AlpacaConfig(allow_live=False), True)


def test_live_url_in_config_without_opt_ins_is_refused() -> None:
    cfg = AlpacaConfig(trading_url=LIVE_TRADING_URL)
    with pytest.raises(LiveTradingRefused, match="two opt-ins"):
        trading_base_url(cfg, False)
    with pytest.raises(LiveTradingRefused):
        AlpacaApi(cfg, "k", "s", live=False)  # refused before any client is built


@pytest.mark.parametrize("value", ["1", "yes", "True ", "ture", ""])
def test_env_spellings_never_switch_to_live_without_the_flag(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.config_load import ConfigError, load_settings

    monkeypatch.setenv("BOT_ALPACA__ALLOW_LIVE", value)
    try:
        s = load_settings(None)
    except ConfigError:
        return  # a typo is refused outright: also safe
    assert trading_base_url(s.alpaca, False) == PAPER_TRADING_URL
