"""The refusal type of the emulator: an HTTP status, Alpaca's numeric code and a message.

`EmulatorState` raises it for everything Alpaca would refuse; the HTTP layer turns it
into the JSON error body `{"code": int, "message": str, ...extra}` that alpaca-py's
`APIError` reads. Imports nothing from the rest of the project.
"""

from __future__ import annotations

from typing import Any

# Alpaca's codes, as listed in shared/ref/alpaca-api.md section 2.5.
INVALID = 40010001  # 422: validation
UNAUTHORIZED = 40110000  # 401
FORBIDDEN = 40310000  # 403: buying power, qty available
NOT_FOUND = 40410000  # 404
UNPROCESSABLE = 42210000  # 422: business rule (not cancelable, not replaceable)
RATE_LIMITED = 42910000  # 429


class ApiError(Exception):
    """A refusal as Alpaca would answer it; `extra` keys are added to the JSON body. A
    `code` of None leaves the key out, as Alpaca's bare 403 {"message": "forbidden."}."""

    def __init__(self, status: int, code: int | None, message: str, **extra: Any) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.extra: dict[str, Any] = extra

    def body(self) -> dict[str, Any]:
        if self.code is None:
            return {"message": self.message, **self.extra}
        return {"code": self.code, "message": self.message, **self.extra}


def invalid(message: str, **extra: Any) -> ApiError:
    """422/40010001, the code Alpaca uses for every malformed or refused request field."""
    return ApiError(422, INVALID, message, **extra)


def not_found(message: str) -> ApiError:
    return ApiError(404, NOT_FOUND, message)
