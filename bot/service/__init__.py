"""Running the bot as a service: the systemd unit `bot service install` writes (unit.py),
and the health rules a monitor or the dashboard's /healthz asks about (health.py)."""
