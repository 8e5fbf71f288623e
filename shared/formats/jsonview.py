"""Plain-JSON views of parsed messages (for `stax phd show --json`, APIs and the web UI)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import numpy as np

from shared.timeutil import iso_z

from .ims import Message, RawSection


def jsonable(value: Any, without: frozenset[str] = frozenset()) -> Any:
    """Dataclasses to dicts, datetimes to ISO 8601 (UTC, Z), arrays and tuples to lists;
    the dataclass fields and dict keys named in `without` left out (not converted)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name), without)
            for f in dataclasses.fields(value)
            if f.compare and f.name not in without
        }
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [jsonable(v, without) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v, without) for k, v in value.items() if str(k) not in without}
    return value


def message_view(message: Message, without: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The message's main section at the top level, the envelope under `message`,
    and any further sections under `other_sections`; fields named in `without` (e.g.
    the spectra's "counts") left out."""
    main = next((s for s in message.sections if not isinstance(s, RawSection)), message.sections[0])
    view = jsonable(main, without)
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
        view["other_sections"] = [jsonable(s, without) for s in others]
    if message.warnings:
        view["warnings"] = [str(w) for w in message.warnings]
    return view
