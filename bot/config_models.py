"""Config models that never mix up booleans and numbers.

pydantic's lax mode reads `true` as 1 and `1` as true, so a typo in a TOML file (a
boolean where a count was meant) would silently change the strategy. `StrictModel`, the
base of every config section, refuses both, and unknown keys too; values that arrive as
text (environment variables) are still converted. `validate_without_mixups` gives the
same check to a model that is not a StrictModel (the strategies' models, in strategies/).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

_NOT_A_BOOL = "Input should be a number, not a boolean"
_NOT_A_NUMBER = "Input should be a boolean (true or false), not a number"


def _scalar_type(annotation: Any) -> Any:
    """`int` for `int`, `Annotated[int, ...]` and `int | None`; other annotations as given."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not NoneType]
        if len(members) == 1:
            return _scalar_type(members[0])
    return annotation


def _kind_mixup(annotation: Any, value: Any) -> str | None:
    """Why `value` must not be coerced to the field's type, or None.

    pydantic's lax mode reads `true` as 1 and `1` as true: a typo in a file (a boolean
    where a count was meant) would silently change the strategy. Strings are left to
    pydantic: environment variables arrive as text and must still be converted.
    """
    kind = _scalar_type(annotation)
    if kind in (int, float) and isinstance(value, bool):
        return _NOT_A_BOOL
    if kind is bool and isinstance(value, int | float) and not isinstance(value, bool):
        return _NOT_A_NUMBER
    return None


def _kind_mixups(model: type[BaseModel], data: Any) -> list[InitErrorDetails]:
    """Every value of `data` (a section's raw table) of the wrong kind for `model`."""
    if not isinstance(data, Mapping):
        return []
    found: list[InitErrorDetails] = []
    for name, field in model.model_fields.items():
        if name not in data:
            continue
        annotation, value = field.annotation, data[name]
        items: list[tuple[tuple[str | int, ...], Any]] = [((name,), value)]
        if get_origin(annotation) is list and isinstance(value, list):
            annotation = get_args(annotation)[0]
            items = [((name, i), item) for i, item in enumerate(value)]
        for loc, item in items:
            why = _kind_mixup(annotation, item)
            if why is not None:
                error = PydanticCustomError("bool_number_mixup", why)
                found.append(InitErrorDetails(type=error, loc=loc, input=item))
    return found


def validate_without_mixups(
    model: type[BaseModel], value: Any, handler: Callable[[Any], Any]
) -> Any:
    """`handler(value)`, refusing values of the wrong kind; all problems reported at once.
    `handler` validates with `model` (a wrap validator's handler, or the model itself)."""
    mixups = _kind_mixups(model, value)
    if not mixups:
        return handler(value)
    seen = {tuple(m["loc"]) for m in mixups}
    others: list[InitErrorDetails] = []
    try:
        handler(value)
    except ValidationError as exc:
        others = [
            InitErrorDetails(
                type=PydanticCustomError(err["type"], err["msg"]),
                loc=err["loc"],
                input=err["input"],
            )
            for err in exc.errors()
            if tuple(err["loc"]) not in seen  # `false` for a count also fails ge=1: say it once
        ]
    raise ValidationError.from_exception_data(model.__name__, mixups + others)


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, not silently ignored, and a
    boolean is never taken for a number (nor a number for a boolean)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_kind_mixup(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        why = _kind_mixup(field.annotation, value) if field is not None else None
        if why is not None:
            raise PydanticCustomError("bool_number_mixup", why)
        return value
