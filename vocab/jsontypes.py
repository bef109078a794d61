"""The type of a JSON value: what a job's result, a stored row's JSON column or a
`to_dict()` holds once it is plain data."""

from __future__ import annotations

from typing import TypeAlias

Json: TypeAlias = "None | bool | int | float | str | list[Json] | dict[str, Json]"
