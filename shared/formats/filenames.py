"""Product file names: `<STATION>_<MSG_ID>_<TYPE>_<yyyy>_<mm>_<dd>T<HH>_<MM>_<SS>.<EXT>`.

The name is how stations, the central server and users' download scripts tell files
apart before opening them, so `str(parse_product_name(n)) == n` for every valid name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .phd import PHD_TYPES
from .soh import SOH_TYPES

# product type -> the extensions its files may carry
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "PHD": ("TXT",),
    "SOH": ("TXT",),
    "ALERT": ("TXT",),
    "ATS": ("TXT", "AS"),  # TXT: the station's analysis; AS: the central re-analysis
    "CSV": ("CSV",),
}
PRODUCTS = tuple(EXTENSIONS)

_WORD = re.compile(r"[A-Za-z0-9]+", re.ASCII)
_STATION = re.compile(r"[A-Z0-9]+", re.ASCII)
_TIME = re.compile(r"([0-9]{4})_([0-9]{2})_([0-9]{2})T([0-9]{2})_([0-9]{2})_([0-9]{2})", re.ASCII)
_EXAMPLE = "AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT"


@dataclass(frozen=True)
class ProductName:
    """The parts of a product file name. `time` is UTC, whole seconds; `ext` has no dot."""

    station: str
    msg_id: str
    product: str
    time: datetime
    ext: str

    def __post_init__(self) -> None:
        if not _STATION.fullmatch(self.station):
            raise ValueError(
                f"station code must be upper-case letters and digits, got {self.station!r}"
            )
        if not _WORD.fullmatch(self.msg_id):
            raise ValueError(f"message id must be letters and digits (no '_'), got {self.msg_id!r}")
        if self.product not in EXTENSIONS:
            raise ValueError(
                f"product type must be one of {', '.join(PRODUCTS)}, got {self.product!r}"
            )
        allowed = EXTENSIONS[self.product]
        if self.ext not in allowed:
            raise ValueError(
                f"{self.product} files end in {' or '.join('.' + e for e in allowed)}, "
                f"got {'.' + self.ext!r}"
            )
        if self.time.tzinfo is None:
            raise ValueError("time must be timezone-aware (UTC); got a naive datetime")
        if self.time.microsecond:
            raise ValueError(f"file names carry whole seconds; got {self.time.isoformat()}")
        object.__setattr__(self, "time", self.time.astimezone(UTC))

    def __str__(self) -> str:
        return (
            f"{self.station}_{self.msg_id}_{self.product}_{self.time:%Y_%m_%dT%H_%M_%S}.{self.ext}"
        )


def extension_for(product: str, analysis: str = "STATION") -> str:
    """The extension a product's file gets; `analysis` ("STATION" or "CENTRAL") matters for ATS."""
    if product not in EXTENSIONS:
        raise ValueError(f"product type must be one of {', '.join(PRODUCTS)}, got {product!r}")
    if analysis not in ("STATION", "CENTRAL"):
        raise ValueError(f"analysis must be STATION or CENTRAL, got {analysis!r}")
    if product == "ATS" and analysis == "CENTRAL":
        return "AS"
    return EXTENSIONS[product][0]


def product_for_data_type(data_type: str) -> str:
    """The product type (PHD, SOH, ALERT) of a message's DATA_TYPE."""
    if data_type in PHD_TYPES:
        return "PHD"
    if data_type in SOH_TYPES:
        return "SOH"
    if data_type.startswith("ALERT_"):  # as the reader: ALERT_SYSTEM, ALERT_FLOW, ...
        return "ALERT"
    raise ValueError(f"no product file type for DATA_TYPE {data_type!r}")


def parse_product_name(name: str) -> ProductName:
    """Split a product file name into its parts. Raises ValueError saying what is wrong."""

    def bad(why: str, example: bool = False) -> ValueError:
        hint = f"; a product file name looks like {_EXAMPLE}" if example else ""
        return ValueError(f"not a product file name: {name!r}: {why}{hint}")

    stem, dot, ext = name.rpartition(".")
    if not dot:
        raise bad("no extension", example=True)
    parts = stem.split("_")
    if len(parts) != 8:
        raise bad(f"expected 8 parts separated by '_', found {len(parts)}", example=True)
    station, msg_id, product = parts[:3]
    if product not in EXTENSIONS:
        raise bad(f"unknown product type {product!r} (expected one of {', '.join(PRODUCTS)})")
    m = _TIME.fullmatch("_".join(parts[3:]))
    if not m:
        raise bad("the time must read yyyy_mm_ddTHH_MM_SS", example=True)
    try:
        time = datetime(*(int(g) for g in m.groups()), tzinfo=UTC)
    except ValueError as exc:
        raise bad(f"not a valid date and time ({exc})") from None
    try:
        return ProductName(station, msg_id, product, time, ext)
    except ValueError as exc:
        raise bad(str(exc)) from None


__all__ = [
    "EXTENSIONS",
    "PRODUCTS",
    "ProductName",
    "extension_for",
    "parse_product_name",
    "product_for_data_type",
]
