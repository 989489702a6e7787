from django.apps import AppConfig

# The engine's errors are HTTP-free (STYLE §4); this table gives them their status on every API surface.
ENGINE_ERROR_STATUS = {
    "unsupported_format": 415,
    "corrupt_input": 415,
    "encrypted_pdf": 415,
    "input_too_large": 413,
    "invalid_spec": 422,
    "deadline_exceeded": 422,
}


class CompressionConfig(AppConfig):
    name = "compression"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from compression.engine.errors import EngineError
        from crush.api.errors import coded_errors_register

        coded_errors_register(EngineError, ENGINE_ERROR_STATUS)
