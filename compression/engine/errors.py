"""Engine errors: HTTP-free, each with a stable ``code`` and a message safe to show to clients."""


class EngineError(Exception):
    code = "engine_error"
    default_message = "The file could not be processed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class UnsupportedFormat(EngineError):
    code = "unsupported_format"
    default_message = "The file format is not supported."


class CorruptInput(EngineError):
    code = "corrupt_input"
    default_message = "The file is empty, truncated or corrupt."


class InputTooLarge(EngineError):
    code = "input_too_large"
    default_message = "The file exceeds the allowed size."


class EncryptedPdf(EngineError):
    code = "encrypted_pdf"
    default_message = "The PDF needs a password to open; save a copy without the password and upload that."


class InvalidSpec(EngineError):
    code = "invalid_spec"
    default_message = "The compression or resize parameters are invalid."


class UnsupportedConversion(EngineError):
    code = "unsupported_conversion"
    default_message = "The image cannot be converted to the asked format."


class DeadlineExceeded(EngineError):
    code = "deadline_exceeded"
    default_message = "Processing took too long."
