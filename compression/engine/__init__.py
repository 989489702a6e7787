"""Crush compression engine: bytes and explicit arguments in, a Result out. No Django here."""

from .errors import (
    CorruptInput,
    DeadlineExceeded,
    EncryptedPdf,
    EngineError,
    InputTooLarge,
    InvalidSpec,
    UnsupportedConversion,
    UnsupportedFormat,
)
from .formats import Format, sniff
from .options import (
    DEFAULT_PRESERVE,
    CompressionType,
    CompressOptions,
    EngineLimits,
    ResizeSpec,
    ResizeStrategy,
)
from .pipeline import Probe, Result, compress, convert_targets, probe

__all__ = [
    "DEFAULT_PRESERVE",
    "CompressOptions",
    "CompressionType",
    "CorruptInput",
    "DeadlineExceeded",
    "EncryptedPdf",
    "EngineError",
    "EngineLimits",
    "Format",
    "InputTooLarge",
    "InvalidSpec",
    "Probe",
    "ResizeSpec",
    "ResizeStrategy",
    "Result",
    "UnsupportedConversion",
    "UnsupportedFormat",
    "compress",
    "convert_targets",
    "probe",
    "sniff",
]
