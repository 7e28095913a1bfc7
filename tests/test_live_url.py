"""Live trading is decided on the parsed host of alpaca.trading_url, not on its spelling.

Without both opt-ins (config `alpaca.allow_live = true` and `--live`) only Alpaca's
paper host and loopback addresses are allowed; every spelling of the live host
`api.alpaca.markets` is refused, and with both opt-ins each of them means the live
endpoint. Expected URLs are written out by hand.
"""

from __future__ import annotations

import pytest

from bot.alpaca.trading import AlpacaApi, LiveTradingRefused, trading_base_url
from bot.settings import AlpacaConfig

LIVE = "https://api.alpaca.markets"
PAPER = "https://paper-api.alpaca.markets"

# Each of these passed as paper with neither opt-in when the URL was compared as a string.
LIVE_SPELLINGS = [
    "https://API.alpaca.markets",
    "https://Api.Alpaca.Markets",
    "https://api.alpaca.markets:443",
    "https://api.alpaca.markets.",
    "http://api.alpaca.markets",
    "https://api.alpaca.markets/",
    "HTTPS://api.alpaca.markets",
    "https://api.alpaca.markets:8443",
]


def url_for(url: str, allow_live: bool, flag: bool) -> str:
    return trading_base_url(AlpacaConfig(trading_url=url, allow_live=allow_live), flag)


@pytest.mark.parametrize("url", [*LIVE_SPELLINGS, "https://api.alpaca.markets/v2"])
@pytest.mark.parametrize(("allow_live", "flag"), [(False, False), (True, False)])
def test_every_spelling_of_the_live_host_is_refused_without_both_opt_ins(
    url: str, allow_live: bool, flag: bool
) -> None:
    with pytest.raises(LiveTradingRefused) as exc:
        url_for(url, allow_live, flag)
    msg = str(exc.value)
    assert repr(url) in msg and "LIVE endpoint" in msg
    assert "alpaca.allow_live = true" in msg and "--live" in msg


def test_the_live_url_is_refused_before_any_client_is_built() -> None:
    with pytest.raises(LiveTradingRefused):
        AlpacaApi(AlpacaConfig(trading_url="https://API.alpaca.markets:443"), "k", "s")


@pytest.mark.parametrize("url", LIVE_SPELLINGS)
def test_every_spelling_of_the_live_host_is_live_with_both_opt_ins(url: str) -> None:
    assert url_for(url, True, True) == "https://api.alpaca.markets"


@pytest.mark.parametrize("url", LIVE_SPELLINGS)
def test_live_flag_without_allow_live_is_refused_whatever_the_url(url: str) -> None:
    with pytest.raises(LiveTradingRefused, match=r"--live given .*alpaca.allow_live = true"):
        url_for(url, False, True)


@pytest.mark.parametrize(
    "url",
    [
        "https://paper-api.alpaca.markets",
        "https://paper-api.alpaca.markets/",
        "https://PAPER-API.Alpaca.Markets",
        "https://paper-api.alpaca.markets.",
        "https://paper-api.alpaca.markets:443",
    ],
)
def test_paper_host_spellings_give_the_paper_url_and_live_with_both_opt_ins(url: str) -> None:
    assert url_for(url, False, False) == "https://paper-api.alpaca.markets"
    assert url_for(url, True, False) == "https://paper-api.alpaca.markets"
    assert url_for(url, True, True) == "https://api.alpaca.markets"


def test_default_config_is_paper_and_both_opt_ins_give_live() -> None:
    assert url_for(PAPER, False, False) == "https://paper-api.alpaca.markets"
    assert url_for(PAPER, True, True) == "https://api.alpaca.markets"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("http://127.10.20.30:9000", "http://127.10.20.30:9000"),
        ("http://localhost:1234", "http://localhost:1234"),
        ("http://LocalHost:1234", "http://LocalHost:1234"),
        ("http://[::1]:8765", "http://[::1]:8765"),
    ],
)
def test_loopback_emulator_urls_are_allowed_without_opt_ins(url: str, expected: str) -> None:
    assert url_for(url, False, False) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "http://192.168.1.10:8765",
        "http://0.0.0.0:8765",
        "https://api.alpaca.markets.example.com",
        "https://paper-api.alpaca.markets.evil.example",
        "http://[::ffff:8.8.8.8]:8765",
    ],
)
def test_unknown_host_is_refused_without_opt_ins(url: str) -> None:
    with pytest.raises(LiveTradingRefused) as exc:
        url_for(url, False, False)
    msg = str(exc.value)
    assert repr(url) in msg and "neither Alpaca's paper endpoint" in msg
    assert "alpaca.allow_live = true" in msg and "--live" in msg


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://api.alpaca .markets", "whitespace"),
        (" https://paper-api.alpaca.markets", "whitespace"),
        ("https://paper-api.alpaca.markets\n", "whitespace"),
        ("https://paper-api.alpaca.markets\t", "whitespace"),
        ("", "empty"),
        ("https://", "no host"),
        ("https:///v2", "no host"),
        ("paper-api.alpaca.markets", "scheme"),
        ("ftp://paper-api.alpaca.markets", "scheme"),
        ("ws://127.0.0.1:8765", "scheme"),
        ("https://paper-api.alpaca.markets:abc", "not a usable URL"),
        ("https://paper-api.alpaca.markets:99999", "not a usable URL"),
        ("http://[::1", "not a usable URL"),
        ("https://user:pw@paper-api.alpaca.markets", "user name or password"),
        ("https://paper-api.alpaca.markets@example.com", "user name or password"),
        ("https://paper-api.alpaca.markets?x=1", "query"),
    ],
)
@pytest.mark.parametrize(("allow_live", "flag"), [(False, False), (True, True)])
def test_malformed_url_is_refused_with_or_without_opt_ins(
    url: str, why: str, allow_live: bool, flag: bool
) -> None:
    with pytest.raises(LiveTradingRefused) as exc:
        url_for(url, allow_live, flag)
    msg = str(exc.value)
    assert repr(url) in msg and why in msg


@pytest.mark.parametrize(
    "url",
    [
        "https://paper-api.alpaca.markets/v2",
        "https://paper-api.alpaca.markets/v2/",
        "https://paper-api.alpaca.markets/V2",
        "http://127.0.0.1:8765/v2",
    ],
)
@pytest.mark.parametrize(("allow_live", "flag"), [(False, False), (True, True)])
def test_v2_suffix_is_refused_with_a_hint(url: str, allow_live: bool, flag: bool) -> None:
    with pytest.raises(LiveTradingRefused) as exc:
        url_for(url, allow_live, flag)
    assert "do not include /v2" in str(exc.value) and "alpaca-py appends" in str(exc.value)


def test_live_host_with_v2_names_both_problems_without_opt_ins() -> None:
    with pytest.raises(LiveTradingRefused) as exc:
        url_for("https://api.alpaca.markets/v2", False, False)
    assert "LIVE endpoint" in str(exc.value) and "do not include /v2" in str(exc.value)
    with pytest.raises(LiveTradingRefused, match="do not include /v2"):
        url_for("https://api.alpaca.markets/v2", True, True)


def test_other_path_on_an_alpaca_host_is_refused() -> None:
    with pytest.raises(LiveTradingRefused, match="takes no path"):
        url_for("https://paper-api.alpaca.markets/api", False, False)


def test_unknown_host_with_both_opt_ins_is_used_as_given() -> None:
    # Both opt-ins are the user's explicit choice (e.g. a proxy in front of Alpaca).
    assert url_for("https://proxy.example.com/", True, True) == "https://proxy.example.com"


def test_refused_url_through_settings_names_the_opt_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config_load import load_settings

    monkeypatch.setenv("BOT_ALPACA__TRADING_URL", "https://API.alpaca.markets.")
    s = load_settings(None)
    with pytest.raises(LiveTradingRefused, match="two opt-ins"):
        trading_base_url(s.alpaca, False)
    monkeypatch.setenv("BOT_ALPACA__ALLOW_LIVE", "true")
    assert trading_base_url(load_settings(None).alpaca, True) == LIVE
