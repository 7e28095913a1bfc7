"""Compatibility suite (issue 11, item 13): the emulator against Alpaca's documented responses.

For every endpoint the bot uses (bot/alpaca), the real alpaca-py SDK drives the emulator
over HTTP; the raw JSON the SDK received (kept by a response hook on its own session) is
compared, field by field, with the example response of Alpaca's API reference, kept with its
source in tests/fixtures/alpaca/ (see the README there):

- the same set of keys: every key of the example and every key the page's schema requires
  must be there; a key beyond the example must at least be in the page's schema. A key the
  emulator may leave out or add anyway is in an explicit allow-list below, with the reason;
- the same JSON type per key (Alpaca sends money and quantities as decimal strings), with
  null only where the example has null or the schema says nullable;
- the same string formats (RFC 3339 times, UUIDs, decimal strings, "YYYY-MM-DD", "HH:MM");
- enum values spelled as the schema spells them;
- the fixture and the emulator's answer parse into the same alpaca-py model, and the typed
  SDK call returns that model.

The trade_updates stream (bot/emulator/stream.py) is read the same way: alpaca-py's
TradingStream listens on the emulator's /stream, each decoded message is kept before the SDK
parses it, and compared with the documented fill message; its order with the REST Order.

Values (ids, prices, times) naturally differ and are not compared, except enum spellings.
Every test collects all the differences it finds and reports them together.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.models import BarSet
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import (
    AccountStatus,
    AssetExchange,
    OrderClass,
    OrderSide,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import Calendar, Clock, Order, Position, TradeAccount, TradeUpdate
from alpaca.trading.requests import (
    GetCalendarRequest,
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)
from alpaca.trading.stream import TradingStream
from pydantic import TypeAdapter

from bot.emulator import EmulatorServer, EmulatorState

FIXTURES = Path(__file__).parent / "fixtures" / "alpaca"
DATA_DIR = Path(__file__).parents[1] / "data"
START = datetime(2026, 1, 13, 21, 0, tzinfo=UTC)  # after the 2026-01-13 close (16:00 ET)
SESSION = "2026-01-14T15:00:00Z"  # 10:00 ET on 2026-01-14: the market is open
KEY, SECRET = "compat-key", "compat-secret"
KEYS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
SYMBOL = "BABA"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


# ---------------------------------------------------------------- the comparison

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("RFC 3339 time", RFC3339),
    ("date YYYY-MM-DD", re.compile(r"^\d{4}-\d{2}-\d{2}$")),
    ("time HH:MM", re.compile(r"^\d{2}:\d{2}$")),
    ("UUID", re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")),
    ("decimal string", re.compile(r"^-?\d+(\.\d+)?$")),
)
SCHEMA_FORMATS = {"date-time": "RFC 3339 time", "uuid": "UUID"}


def string_format(text: str) -> str | None:
    """The first of FORMATS that `text` matches, or None (free text)."""
    return next((name for name, pattern in FORMATS if pattern.match(text)), None)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass(frozen=True)
class Rules:
    """What the emulator may do differently from the example, each with its reason."""

    may_omit: Mapping[str, str] = field(default_factory=dict)
    # key -> (reason, the schema the key follows)
    may_add: Mapping[str, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    # keys whose string format is the client's choice, not Alpaca's
    free_format: Mapping[str, str] = field(default_factory=dict)
    # key -> {value: reason}: values beyond the schema's enum
    extra_enum: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # key -> allowed values, for enum-like keys whose schema lists no enum
    enums: Mapping[str, frozenset[str]] = field(default_factory=dict)


def shape_diff(
    actual: Any, example: Mapping[str, Any], schema: Mapping[str, Any], rules: Rules, where: str
) -> list[str]:
    """Every way `actual` differs in shape from Alpaca's `example` and `schema` (one level)."""
    if not isinstance(actual, dict):
        return [f"{where}: expected a JSON object, got {json_type(actual)}"]
    props: Mapping[str, Any] = schema.get("properties", {})
    expected = set(example) | set(schema.get("required", ()))
    allowed = expected | set(props) | set(rules.may_add)
    problems = []
    for key in sorted(expected - actual.keys() - rules.may_omit.keys()):
        sent = repr(example[key]) if key in example else "required by the schema"
        problems.append(f"{where}: missing {key!r} (Alpaca: {sent})")
    for key in sorted(actual.keys() - allowed):
        problems.append(
            f"{where}: extra {key!r} = {actual[key]!r} (not in Alpaca's example/schema)"
        )
    for key in sorted(actual.keys() & allowed):
        spec = props.get(key) or (rules.may_add[key][1] if key in rules.may_add else {})
        problems += value_diff(key, actual[key], example, spec, rules, where)
    return problems


def value_diff(
    key: str,
    value: Any,
    example: Mapping[str, Any],
    spec: Mapping[str, Any],
    rules: Rules,
    where: str,
) -> list[str]:
    types = set()
    if key in example:
        types.add(json_type(example[key]))
    if "type" in spec:
        types.add(spec["type"])
    if spec.get("nullable"):
        types.add("null")
    got = json_type(value)
    # A JSON number without a fraction is still a number (a price of 178 is sent as 178).
    if got not in types and not (got == "integer" and "number" in types):
        return [f"{where}: {key!r} is {got} ({value!r}); Alpaca sends {' or '.join(sorted(types))}"]
    problems = []
    if isinstance(value, str) and key not in rules.free_format:
        wanted = SCHEMA_FORMATS.get(spec.get("format", ""))
        if wanted is None and isinstance(example.get(key), str):
            wanted = string_format(example[key])
        if wanted is not None and string_format(value) != wanted:
            problems.append(f"{where}: {key!r} = {value!r} is not a {wanted}")
    values = set(spec.get("enum", ())) | set(rules.extra_enum.get(key, {}))
    values |= rules.enums.get(key, frozenset())
    if values and value is not None and value not in values:
        problems.append(f"{where}: {key!r} = {value!r} is not one of Alpaca's {sorted(values)}")
    return problems


def assert_no_diff(problems: list[str]) -> None:
    assert not problems, "differences from Alpaca's documented shape:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------- the allow-lists

ACCOUNT_RULES = Rules(
    may_omit={
        key: "alpaca-py 0.44's TradeAccount docstring: removed from Alpaca responses on "
        "2026-07-06 (FINRA intraday-margin migration); the SDK defaults it to None"
        for key in ("daytrading_buying_power", "pattern_day_trader", "daytrade_count")
    },
    # crypto_status has no enum in the schema; alpaca-py parses it as an AccountStatus.
    enums={"crypto_status": frozenset(s.value for s in AccountStatus)},
)

_EXPIRES_AT = (
    "not in the Order schema, but Alpaca's own examples carry it on order objects (the "
    "MultilegOptions example of reference/getorderbyorderid-1, order_get.json) and alpaca-py "
    "reads it (Order.expires_at)",
    {"type": "string", "format": "date-time", "nullable": True},
)
ORDER_RULES = Rules(
    may_add={"expires_at": _EXPIRES_AT},
    free_format={
        "client_order_id": "the client chooses it (the bot sends lb-...); Alpaca makes a UUID "
        "only when none is sent"
    },
    extra_enum={
        "status": {
            "held": "the stop/take-profit legs of a bracket or OTO wait in held until the entry "
            "fills (shared/ref/alpaca-api.md 2.3); alpaca-py's OrderStatus has HELD, the "
            "2026-01 reference page's enum does not list it"
        }
    },
)
LEG_RULES = Rules(
    may_omit={
        "ratio_qty": "the leg ratio of a multi-leg option order (order_class mleg), the only "
        "documented example with legs; bracket, OTO and OCO legs have no ratio"
    },
    may_add=ORDER_RULES.may_add,
    free_format=ORDER_RULES.free_format,
    extra_enum=ORDER_RULES.extra_enum,
)
POSITION_RULES = Rules(
    enums={
        "side": frozenset({"long", "short"}),
        "asset_class": frozenset({"us_equity", "us_option", "crypto"}),
        "exchange": frozenset(e.value for e in AssetExchange),
    }
)
NO_RULES = Rules()


def item_schema(page: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema of one item: for an array response (calendar, GET /v2/orders), its items."""
    schema: Mapping[str, Any] = page["schema"]
    return schema["items"] if schema.get("type") == "array" else schema


def order_diff(
    actual: Any, page: Mapping[str, Any], where: str, also: Mapping[str, Any] | None = None
) -> list[str]:
    """An Order against the page's Order example and schema (and the keys of `also`, a
    second documented Order example), and each of its legs against the documented leg
    (MultilegOptions example, legs.items schema)."""
    schema = item_schema(page)
    example = {**(also or {}), **page["example"]}
    problems = shape_diff(actual, example, schema, ORDER_RULES, where)
    legs = actual.get("legs") if isinstance(actual, dict) else None
    if isinstance(legs, list):
        leg_example = fixture("order_get.json")["example_with_legs"]["legs"][0]
        leg_schema = schema["properties"]["legs"].get("items", {})
        for i, leg in enumerate(legs):
            problems += shape_diff(leg, leg_example, leg_schema, LEG_RULES, f"{where}.legs[{i}]")
    return problems


# ---------------------------------------------------------------- the emulator and the SDK


@dataclass
class Wire:
    """The raw HTTP responses an SDK client received, kept by a hook on its session."""

    responses: list[requests.Response] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        client._session.hooks["response"].append(self._keep)

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.responses.append(response)

    def last(self) -> requests.Response:
        assert self.responses, "the SDK sent no request"
        return self.responses[-1]

    def json(self) -> Any:
        return self.last().json()


@pytest.fixture(scope="module")
def loaded() -> EmulatorState:
    return EmulatorState.from_dir(DATA_DIR, START)


@pytest.fixture
def server(loaded: EmulatorState) -> Iterator[EmulatorServer]:
    state = EmulatorState(loaded.market, START, initial_cash=100_000.0, slippage_bps=0.0)
    with EmulatorServer(state, api_key=KEY, secret_key=SECRET) as srv:
        yield srv


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def sdk(server: EmulatorServer, wire: Wire) -> TradingClient:
    client = TradingClient(KEY, SECRET, paper=True, url_override=server.url)
    wire.attach(client)
    return client


def advance(server: EmulatorServer, until: str) -> None:
    resp = requests.post(
        f"{server.url}/_emulator/advance", json={"until": until}, headers=KEYS, timeout=5
    )
    resp.raise_for_status()


def holding(server: EmulatorServer, sdk: TradingClient, qty: int = 100) -> None:
    """A long position bought at the 2026-01-14 open; the clock left at 10:00 ET that day."""
    sdk.submit_order(
        MarketOrderRequest(
            symbol=SYMBOL, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )
    advance(server, SESSION)


def cid() -> str:
    return f"lb-compat-{uuid.uuid4().hex[:12]}"


# The requests the bot builds (bot/alpaca/trading.py AlpacaApi.submit), one per order kind.
ORDER_KINDS: dict[str, Callable[[], Any]] = {
    "market": lambda: MarketOrderRequest(
        symbol=SYMBOL,
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        client_order_id=cid(),
    ),
    "limit": lambda: LimitOrderRequest(
        symbol=SYMBOL,
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.GTC,
        limit_price=150.0,
        client_order_id=cid(),
    ),
    "stop": lambda: StopOrderRequest(
        symbol=SYMBOL,
        qty=10,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.GTC,
        stop_price=150.0,
        client_order_id=cid(),
    ),
    "bracket": lambda: MarketOrderRequest(
        symbol=SYMBOL,
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.GTC,
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=200.0),
        stop_loss=StopLossRequest(stop_price=150.0),
        client_order_id=cid(),
    ),
    "oto": lambda: MarketOrderRequest(
        symbol=SYMBOL,
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.GTC,
        order_class=OrderClass.OTO,
        stop_loss=StopLossRequest(stop_price=150.0),
        client_order_id=cid(),
    ),
    "oco": lambda: LimitOrderRequest(
        symbol=SYMBOL,
        qty=10,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.GTC,
        limit_price=200.0,
        order_class=OrderClass.OCO,
        take_profit=TakeProfitRequest(limit_price=200.0),
        stop_loss=StopLossRequest(stop_price=150.0),
        client_order_id=cid(),
    ),
}


def submit_bracket(sdk: TradingClient) -> Order:
    order = sdk.submit_order(ORDER_KINDS["bracket"]())
    assert isinstance(order, Order)
    return order


# ---------------------------------------------------------------- the fixtures themselves


def _parse_calendar(days: list[Any]) -> Any:
    return TypeAdapter(list[Calendar]).validate_python(days)


FIXTURE_MODELS: dict[str, tuple[type, Callable[[dict[str, Any]], Any]]] = {
    "account.json": (TradeAccount, lambda f: TradeAccount(**f["example"])),
    "clock.json": (Clock, lambda f: Clock(**f["example"])),
    "calendar.json": (Calendar, lambda f: _parse_calendar([f["example"]])[0]),
    "orders_post.json": (Order, lambda f: Order(**f["example"])),
    "orders_list.json": (
        Order,
        lambda f: TypeAdapter(list[Order]).validate_python([f["example"]])[0],
    ),
    "orders_by_client_order_id.json": (Order, lambda f: Order(**f["example"])),
    "order_get.json": (Order, lambda f: Order(**f["example_with_legs"])),
    "order_replace.json": (Order, lambda f: Order(**f["example"])),
    "position.json": (Position, lambda f: Position(**f["example"])),
    "stock_bars.json": (BarSet, lambda f: BarSet(f["example"]["bars"])),
    "trade_updates.json": (TradeUpdate, lambda f: TradeUpdate(**f["example"]["data"])),
}


def test_every_fixture_has_a_source_and_a_model() -> None:
    names = {p.name for p in FIXTURES.glob("*.json")}
    assert names == set(FIXTURE_MODELS) | {"order_cancel.json"}
    for name in names:
        source = fixture(name)["_source"]
        assert source["reference"].startswith("https://docs.alpaca.markets/"), name
        read_from = source.get("read_from") or source["example_from"]
        assert re.fullmatch(r"[0-9a-f]{40}", read_from["commit"]), name


@pytest.mark.parametrize("name", sorted(FIXTURE_MODELS))
def test_fixtures_parse(name: str) -> None:
    """Alpaca's own examples parse into the alpaca-py model the emulator's answers must."""
    model, parse = FIXTURE_MODELS[name]
    assert type(parse(fixture(name))) is model


# ---------------------------------------------------------------- account, clock, calendar


def test_account(sdk: TradingClient, wire: Wire) -> None:
    page = fixture("account.json")
    acct = sdk.get_account()
    raw = wire.json()
    assert wire.last().request.path_url == "/v2/account"
    assert type(acct) is type(TradeAccount(**page["example"])) is TradeAccount
    assert_no_diff(shape_diff(raw, page["example"], page["schema"], ACCOUNT_RULES, "account"))


def test_clock(sdk: TradingClient, wire: Wire) -> None:
    page = fixture("clock.json")
    clock = sdk.get_clock()
    raw = wire.json()
    assert type(clock) is Clock
    problems = shape_diff(raw, page["example"], page["schema"], NO_RULES, "clock")
    problems += shape_diff(raw, page["schema_example"], page["schema"], NO_RULES, "clock")
    assert_no_diff(problems)
    # Alpaca gives the clock in US/Eastern with its offset; the SDK keeps it.
    assert clock.timestamp.utcoffset() is not None


def test_calendar(sdk: TradingClient, wire: Wire) -> None:
    page = fixture("calendar.json")
    days = sdk.get_calendar(GetCalendarRequest(start=date(2026, 1, 12), end=date(2026, 1, 21)))
    raw = wire.json()
    assert isinstance(raw, list) and len(raw) == len(days) == 7  # 2026-01-19 is MLK Day
    assert all(type(d) is Calendar for d in days)
    problems = []
    for i, day in enumerate(raw):
        problems += shape_diff(day, page["example"], item_schema(page), NO_RULES, f"calendar[{i}]")
        for key in ("session_open", "session_close"):  # "HHMM", as the example writes them
            if key in day and not re.fullmatch(r"\d{4}", str(day[key])):
                problems.append(f"calendar[{i}]: {key!r} = {day[key]!r} is not HHMM")
    assert_no_diff(problems)


# ---------------------------------------------------------------- orders


@pytest.mark.parametrize("kind", list(ORDER_KINDS))
def test_submit_order(kind: str, server: EmulatorServer, sdk: TradingClient, wire: Wire) -> None:
    page = fixture("orders_post.json")
    holding(server, sdk)  # the sells (stop, OCO) close part of a position, as the bot's do
    order = sdk.submit_order(ORDER_KINDS[kind]())
    raw = wire.json()
    assert wire.last().request.method == "POST"
    assert type(order) is type(Order(**page["example"])) is Order
    problems = order_diff(raw, page, f"POST /v2/orders ({kind})")
    # Alpaca spells a simple order's class "simple" or "" (its own example has "").
    wanted = {kind} if kind in ("bracket", "oto", "oco") else {"simple", ""}
    if raw.get("order_class") not in wanted:
        problems.append(f"order_class is {raw.get('order_class')!r}, asked for {kind}")
    assert_no_diff(problems)


def test_open_orders_nested(server: EmulatorServer, sdk: TradingClient, wire: Wire) -> None:
    """The bot's query (AlpacaApi.open_orders): status=open, its symbol, nested, limit 500."""
    page = fixture("orders_list.json")
    submit_bracket(sdk)
    sdk.submit_order(ORDER_KINDS["limit"]())
    req = GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=[SYMBOL], nested=True, limit=500)
    orders = sdk.get_orders(req)
    raw = wire.json()
    query = parse_qs(urlsplit(wire.last().request.path_url).query)
    assert query["status"] == ["open"] and query["nested"][0].lower() == "true"
    assert page["response_is_array"] and isinstance(raw, list) and len(raw) == len(orders) == 2
    assert all(type(o) is Order for o in orders)
    problems = []
    for i, item in enumerate(raw):
        problems += order_diff(item, page, f"GET /v2/orders[{i}]")
    assert_no_diff(problems)


def test_order_by_client_order_id(sdk: TradingClient, wire: Wire) -> None:
    page = fixture("orders_by_client_order_id.json")
    sent = ORDER_KINDS["market"]()
    sdk.submit_order(sent)
    order = sdk.get_order_by_client_id(sent.client_order_id)
    raw = wire.json()
    assert wire.last().request.path_url.startswith("/v2/orders:by_client_order_id?")
    assert type(order) is Order and raw["client_order_id"] == sent.client_order_id
    assert_no_diff(order_diff(raw, page, "GET /v2/orders:by_client_order_id"))


def test_order_by_id_nested(sdk: TradingClient, wire: Wire) -> None:
    """The bot reads a bracket/OTO/OCO back with nested=true (AlpacaApi.by_client_id)."""
    page = fixture("order_get.json")
    parent = submit_bracket(sdk)
    order = sdk.get_order_by_id(parent.id, GetOrderByIdRequest(nested=True))
    raw = wire.json()
    assert type(order) is type(Order(**page["example_with_legs"])) is Order
    assert isinstance(raw.get("legs"), list) and len(raw["legs"]) == 2
    problems = order_diff(raw, page, "GET /v2/orders/{id}?nested=true")
    types = sorted(leg.get("type") for leg in raw["legs"])
    if types != ["limit", "stop"]:
        problems.append(f"bracket legs are {types}, Alpaca's are a limit and a stop")
    assert_no_diff(problems)


def test_replace_order(server: EmulatorServer, sdk: TradingClient, wire: Wire) -> None:
    """The bot moves a protective stop (AlpacaApi.replace_stop); the answer is the new order."""
    page = fixture("order_replace.json")
    holding(server, sdk)
    stop = sdk.submit_order(ORDER_KINDS["stop"]())
    assert isinstance(stop, Order)
    req = ReplaceOrderRequest(stop_price=155.0, client_order_id=cid())
    new = sdk.replace_order_by_id(stop.id, req)
    raw = wire.json()
    assert wire.last().request.method == "PATCH"
    assert type(new) is Order and raw["id"] != str(stop.id)
    problems = order_diff(raw, page, "PATCH /v2/orders/{id}")
    if raw.get("replaces") != str(stop.id):
        problems.append(f"'replaces' = {raw.get('replaces')!r}, not the replaced order's id")
    assert_no_diff(problems)


def test_cancel_order(server: EmulatorServer, sdk: TradingClient, wire: Wire) -> None:
    page = fixture("order_cancel.json")
    order = sdk.submit_order(ORDER_KINDS["limit"]())
    assert isinstance(order, Order)
    sdk.cancel_order_by_id(order.id)  # alpaca-py returns None on a 204
    resp = wire.last()
    assert resp.request.method == "DELETE"
    assert (resp.status_code, resp.content) == (page["status"], page["body"].encode())
    assert resp.status_code in {int(code) for code in page["responses"]}


# ---------------------------------------------------------------- position and bars


def test_open_position(server: EmulatorServer, sdk: TradingClient, wire: Wire) -> None:
    page = fixture("position.json")
    holding(server, sdk)
    pos = sdk.get_open_position(SYMBOL)
    raw = wire.json()
    assert wire.last().request.path_url == f"/v2/positions/{SYMBOL}"
    assert type(pos) is type(Position(**page["example"])) is Position
    assert_no_diff(shape_diff(raw, page["example"], page["schema"], POSITION_RULES, "position"))


def test_stock_bars(server: EmulatorServer, wire: Wire) -> None:
    """The bot's request (AlpacaMarketData.bars): daily bars, split-adjusted, SIP ending
    15 minutes before now (the free plan's SIP, alpaca.sip_delay_s), plus a minute."""
    page = fixture("stock_bars.json")
    client = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
    wire.attach(client)
    req = StockBarsRequest(
        symbol_or_symbols=SYMBOL,
        timeframe=TimeFrame.Day,
        start=datetime(2026, 1, 5, tzinfo=UTC),
        end=START - timedelta(minutes=16),
        adjustment=Adjustment.SPLIT,
        feed=DataFeed.SIP,
    )
    barset = client.get_stock_bars(req)
    raw = wire.json()
    assert wire.last().request.path_url.startswith("/v2/stocks/bars?")
    assert type(barset) is type(BarSet(page["example"]["bars"])) is BarSet
    assert len(barset.data[SYMBOL]) == 7  # 2026-01-05 .. 2026-01-13
    bar_schema = page["schema"]["properties"]["bars"]["additionalProperties"]["items"]
    bar_example = next(iter(page["example"]["bars"].values()))[0]
    problems = shape_diff(raw, page["example"], page["schema"], NO_RULES, "bars response")
    bars = raw.get("bars") if isinstance(raw, dict) else None
    if not isinstance(bars, dict):
        problems.append(f"'bars' is {json_type(bars)}, Alpaca's is an object keyed by symbol")
    else:
        for symbol, rows in bars.items():
            if not isinstance(rows, list):
                problems.append(f"bars[{symbol!r}] is {json_type(rows)}, not an array")
                continue
            for i, bar in enumerate(rows):
                problems += shape_diff(
                    bar, bar_example, bar_schema, NO_RULES, f"bars.{symbol}[{i}]"
                )
    assert_no_diff(problems)


# ---------------------------------------------------------------- trade_updates

EVENTS = frozenset(
    {
        *fixture("trade_updates.json")["events"]["common"],
        *fixture("trade_updates.json")["events"]["less_common"],
    }
)
FILL_RULES = Rules(enums={"event": EVENTS})
EVENT_RULES = Rules(
    may_omit={
        key: "the docs list execution_id, price, qty and position_qty for fill and partial_fill "
        "only (docs/websocket-streaming, 'Common Events')"
        for key in ("execution_id", "price", "qty", "position_qty")
    },
    enums={"event": EVENTS},
)


class RecordingStream(TradingStream):
    """alpaca-py's TradingStream, keeping each decoded message before it parses it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw: list[dict[str, Any]] = []
        self.updates: list[TradeUpdate] = []
        self.changed = threading.Condition()

    def _cast(self, msg: dict[str, Any]) -> Any:
        self.raw.append(msg)
        return super()._cast(msg)

    async def keep(self, update: TradeUpdate) -> None:
        with self.changed:
            self.updates.append(update)
            self.changed.notify_all()

    def wait_for(self, event: str, timeout: float = 15.0) -> None:
        def seen() -> bool:
            return any(m.get("data", {}).get("event") == event for m in self.raw)

        with self.changed:
            assert self.changed.wait_for(seen, timeout), f"no {event!r} event came"


def stream_report(server: EmulatorServer) -> dict[str, Any]:
    resp = requests.get(f"{server.url}/_emulator/stream", headers=KEYS, timeout=5)
    resp.raise_for_status()
    report: dict[str, Any] = resp.json()
    return report


@pytest.fixture
def stream(server: EmulatorServer) -> Iterator[RecordingStream]:
    """A TradingStream on the emulator's /stream, run in a thread as the bot runs it."""
    client = RecordingStream(
        KEY, SECRET, paper=True, url_override=f"ws://127.0.0.1:{server.port}/stream"
    )
    client.subscribe_trade_updates(client.keep)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while stream_report(server).get("listeners") != 1:
        assert time.monotonic() < deadline, "the stream never started listening"
        time.sleep(0.02)
    yield client
    client.stop()
    # stop() acts on the SDK's next 5 s receive time-out; a server-side drop ends it now.
    requests.post(f"{server.url}/_emulator/stream", json={"drop": True}, headers=KEYS, timeout=5)
    thread.join(10)


def test_trade_updates(server: EmulatorServer, sdk: TradingClient, stream: RecordingStream) -> None:
    """A market buy after the close (accepted), routed and filled at the next open (new, fill):
    each message against the documented fill message, its order against the REST Order."""
    page = fixture("trade_updates.json")
    rest = fixture("orders_post.json")
    sdk.submit_order(ORDER_KINDS["market"]())
    advance(server, SESSION)
    stream.wait_for("fill")
    example, data_example = page["example"], page["example"]["data"]
    problems = []
    for i, msg in enumerate(stream.raw):
        problems += shape_diff(msg, example, {}, NO_RULES, f"trade_updates[{i}]")
        data = msg.get("data")
        event = data.get("event") if isinstance(data, dict) else None
        where = f"trade_updates[{i}] ({event})"
        rules = FILL_RULES if event == "fill" else EVENT_RULES
        problems += shape_diff(data, data_example, {}, rules, where)
        # The order is "the same as the order object that is returned from the REST API"
        # (the docs): the REST Order, plus the keys of the documented message's order.
        order = data.get("order") if isinstance(data, dict) else None
        problems += order_diff(order, rest, f"{where}.order", also=data_example["order"])
    assert [m["data"]["event"] for m in stream.raw] == ["accepted", "new", "fill"]
    assert all(type(u) is TradeUpdate for u in stream.updates) and len(stream.updates) == 3
    assert type(TradeUpdate(**data_example)) is TradeUpdate
    assert_no_diff(problems)
