"""Readers and writers for every message the network exchanges.

>>> from shared.formats import read_file, write_message
>>> msg = read_file("sample.phd")
>>> msg.phd.header.station
'AUS02'
"""

from .alert import ALERT_TYPES, Alert
from .ats import ATS_VERSION, ats_schema, read_ats, validate_ats, write_ats
from .emission_csv import (
    NUCLIDES,
    EmissionRow,
    NuclideValue,
    read_emission_csv,
    release_unit,
    write_emission_csv,
)
from .errors import FormatError, Problem
from .filenames import (
    PRODUCTS,
    ProductName,
    extension_for,
    parse_product_name,
    product_for_data_type,
)
from .ims import Message, RawSection, read_file, read_message, write_message
from .phd import (
    PHD_TYPES,
    Acquisition,
    Certificate,
    Collection,
    EfficiencyPoint,
    EnergyPoint,
    Histogram,
    Phd,
    PhdHeader,
    Processing,
    RawBlock,
    ResolutionPoint,
    Spectrum,
    StackConditions,
)
from .soh import SOH_TYPES, Reading, Soh, SohBlock, SohRawBlock, SohRow, readings

__all__ = [
    "ALERT_TYPES",
    "ATS_VERSION",
    "NUCLIDES",
    "PHD_TYPES",
    "PRODUCTS",
    "SOH_TYPES",
    "Acquisition",
    "Alert",
    "Certificate",
    "Collection",
    "EfficiencyPoint",
    "EmissionRow",
    "EnergyPoint",
    "FormatError",
    "Histogram",
    "Message",
    "NuclideValue",
    "Phd",
    "PhdHeader",
    "Problem",
    "Processing",
    "ProductName",
    "RawBlock",
    "RawSection",
    "Reading",
    "ResolutionPoint",
    "Soh",
    "SohBlock",
    "SohRawBlock",
    "SohRow",
    "Spectrum",
    "StackConditions",
    "ats_schema",
    "extension_for",
    "parse_product_name",
    "product_for_data_type",
    "read_ats",
    "read_emission_csv",
    "read_file",
    "read_message",
    "readings",
    "release_unit",
    "validate_ats",
    "write_ats",
    "write_emission_csv",
    "write_message",
]
