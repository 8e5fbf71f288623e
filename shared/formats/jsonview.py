"""Plain-JSON views of parsed messages (for `stax phd show --json`, APIs and the web UI)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import numpy as np

from shared.timeutil import iso_z

from .ims import Message, RawSection


def jsonable(value: Any) -> Any:
    """Dataclasses to dicts, datetimes to ISO 8601 (UTC, Z), arrays and tuples to lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.compare
        }
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def message_view(message: Message) -> dict[str, Any]:
    """The message's main section at the top level, the envelope under `message`,
    and any further sections under `other_sections`."""
    main = next((s for s in message.sections if not isinstance(s, RawSection)), message.sections[0])
    view = jsonable(main)
    view["message"] = {
        "format": message.format,
        "msg_type": message.msg_type,
        "msg_id": message.msg_id,
        "msg_source": message.msg_source,
        "ref_id": message.ref_id,
        "prod_id": message.prod_id,
        "data_types": message.data_types,
    }
    others = [s for s in message.sections if s is not main]
    if others:
        view["other_sections"] = [jsonable(s) for s in others]
    if message.warnings:
        view["warnings"] = [str(w) for w in message.warnings]
    return view
