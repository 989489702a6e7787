"""Business-rule errors raised by services; each surface renders them in its own shape."""

from typing import Any


class CrushError(Exception):
    code = "error"
    status = 400
    default_message = "Bad request"

    def __init__(self, message: Any = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class Unauthenticated(CrushError):
    code = "unauthenticated"
    status = 401
    default_message = "Invalid or missing credentials"


class AccountDisabled(CrushError):
    code = "account_disabled"
    status = 403
    default_message = "This account is disabled"


class QuotaExceeded(CrushError):
    code = "quota_exceeded"
    status = 403
    default_message = "The monthly allowance of this account is used up"


class NotFound(CrushError):
    code = "not_found"
    status = 404
    default_message = "Not found"


class FileTooLarge(CrushError):
    code = "file_too_large"
    status = 413
    default_message = "The file is larger than this account's file_max_size"


class UnsupportedMedia(CrushError):
    code = "unsupported_media"
    status = 415
    default_message = "Not a supported image or PDF"


class ValidationFailed(CrushError):
    """`message` is {field: [messages]}."""

    code = "invalid"
    status = 422
    default_message: Any = {}
