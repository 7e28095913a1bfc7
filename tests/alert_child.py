"""The process test_alert_delivery's kill -9 test kills: python -m tests.alert_child STATE
URL COUNT. It makes alerts 0..COUNT-1 (the same ids on every run: a restart makes them
again), a few milliseconds apart as a live run would, delivers them to URL through the
real Apprise and exits 0 once none is pending (3 if that takes over a minute)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot.alerts.channels import Channels
from bot.alerts.deliver import Deliverer
from bot.alerts.model import Alert
from bot.settings import AlertsConfig


def main(state: str, url: str, count: int) -> int:
    config = AlertsConfig(rate_per_minute=10_000, backoff_base_s=0.05, backoff_cap_s=0.2)
    deliverer = Deliverer.open(Path(state), config, Channels({"default": url}))
    for i in range(count):
        alert = Alert.create(
            "confirmed", "BABA", ("resistance_163.43", i),
            title=f"BABA confirmed #{i}", body=f"close above 163.43 (#{i})",
            channels=("default",),
        )  # fmt: skip
        deliverer.submit(alert)
        time.sleep(0.005)
    ok = deliverer.flush(60.0)
    deliverer.close()
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
