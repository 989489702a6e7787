"""A PDF as a whole file: open it (repairing a damaged one), keep its permissions, save it, and
check that what was saved is the same document.

Opening is strict first; a file whose cross-reference table or trailer is broken (a truncated
download, a bad xref offset) is then opened again with qpdf's recovery and marked ``repaired``.
A file that opens without a password but is encrypted (an owner password restricting printing
or copying) is compressed and saved encrypted again: same permissions, an empty user password,
a fresh random owner password (the original one is unknown), AES (R 6 when the input used
AES-256, R 4 otherwise). A file that needs a password to open is refused.

Every output is reopened strictly before it is returned: it must have the same number of pages,
each page the same content stream bytes as the input, and the same permissions.
"""

import hashlib
import io
import secrets
from dataclasses import dataclass
from typing import Final

import pikepdf

from .errors import CorruptInput, EncryptedPdf, InputTooLarge
from .limits import check_bytes
from .options import EngineLimits

# qpdf writes the trailer's /Size only when the trailer has one; a reconstructed trailer may not,
# and an xref stream without /Size does not open. Any value will do: qpdf writes the right one.
_PLACEHOLDER_SIZE = 0
# Security handler revisions 5 and 6 use AES-256; 2 to 4 are RC4 or AES-128 and become AES-128.
_AES256_FROM_REVISION = 5
OWNER_PASSWORD_BYTES = 32
FLATE_LEVEL: Final = 9  # streams qpdf compresses on save; the codec re-deflates at the same level
_UNSUPPORTED_ENCRYPTION = (
    "The PDF is encrypted with a method that cannot be read (a certificate or a custom security handler); "
    "save a copy without encryption and upload that."
)

# Per page: a digest of the decoded content streams, or None when the input's could not be read.
PageDigest = bytes | None


@dataclass(frozen=True, slots=True)
class Fingerprint:
    pages: tuple[PageDigest, ...]
    permissions: pikepdf.Permissions | None  # None: not encrypted


@dataclass(slots=True)
class Document:
    pdf: pikepdf.Pdf
    repaired: bool
    encryption: pikepdf.Encryption | None  # how to encrypt the output again
    fingerprint: Fingerprint


class NeedsRepair(Exception):
    """The strict reading failed somewhere; the caller starts again with recovery."""


def _open(data: bytes, *, recover: bool) -> pikepdf.Pdf:
    try:
        return pikepdf.open(io.BytesIO(data), attempt_recovery=recover)
    except pikepdf.PasswordError:
        raise EncryptedPdf() from None


def open_document(data: bytes, limits: EngineLimits, *, recover: bool) -> Document:
    """Open ``data``; without ``recover`` a structural error raises NeedsRepair, with it
    CorruptInput. Refuses password-protected, empty and too long documents."""
    check_bytes(data, limits)
    try:
        pdf = _open(data, recover=recover)
    except pikepdf.PdfError as error:
        if not recover:
            raise NeedsRepair() from None
        if "encryption" in str(error):  # qpdf: "unsupported encryption filter", "... version", ...
            raise EncryptedPdf(_UNSUPPORTED_ENCRYPTION) from None
        raise CorruptInput(
            "The PDF is damaged beyond repair: its cross-reference table or trailer could not be rebuilt."
        ) from None
    try:
        pages = len(pdf.pages)
        if pages == 0:
            raise CorruptInput("The PDF has no pages.")
        if pages > limits.max_pdf_pages:
            raise InputTooLarge(f"The PDF has more than {limits.max_pdf_pages} pages.")
        encryption = _encryption_to_keep(pdf)
        fingerprint = _fingerprint(pdf)
        if recover:
            _check_repaired_pages(pdf)
    except pikepdf.PdfError:
        pdf.close()
        if not recover:
            raise NeedsRepair() from None
        raise CorruptInput("The PDF page tree could not be read.") from None
    except Exception:
        pdf.close()
        raise
    return Document(pdf, repaired=recover, encryption=encryption, fingerprint=fingerprint)


def _check_repaired_pages(pdf: pikepdf.Pdf) -> None:
    """A repaired file loses the objects its damage covered (qpdf lists a referenced object it
    cannot find as null): refuse it when any is missing, since a page would lose its content, a
    font or an image. Then each page must still draw only what its resources hold."""
    missing = sum(1 for obj in pdf.objects if obj is None)
    if missing:
        raise CorruptInput(f"The PDF is damaged: {missing} object(s) it refers to are missing.")
    for number, page in enumerate(pdf.pages, start=1):
        if "/Contents" not in page.obj:
            raise CorruptInput(f"The PDF is damaged: page {number} lost its content.")
        resources = page.obj.get("/Resources")
        for instruction in pikepdf.parse_content_stream(page, "Tf Do"):
            operands = instruction.operands
            kind = "/Font" if str(instruction.operator) == "Tf" else "/XObject"
            group = resources.get(kind) if isinstance(resources, pikepdf.Dictionary) else None
            if not operands or not isinstance(group, pikepdf.Dictionary) or str(operands[0]) not in group:
                raise CorruptInput(f"The PDF is damaged: page {number} lost a font or an image.")


def page_count(data: bytes, limits: EngineLimits) -> int:
    """Pages of ``data`` (repairing it in memory if needed), refusing what compress would refuse."""
    try:
        document = open_document(data, limits, recover=False)
    except NeedsRepair:
        document = open_document(data, limits, recover=True)
    with document.pdf:
        return len(document.fingerprint.pages)


def _encryption_to_keep(pdf: pikepdf.Pdf) -> pikepdf.Encryption | None:
    if not pdf.is_encrypted:
        return None
    encrypt = pdf.trailer.get("/Encrypt")
    metadata = not isinstance(encrypt, pikepdf.Dictionary) or bool(encrypt.get("/EncryptMetadata", True))
    return pikepdf.Encryption(
        owner=secrets.token_urlsafe(OWNER_PASSWORD_BYTES),
        user="",
        R=6 if pdf.encryption.R >= _AES256_FROM_REVISION else 4,
        aes=True,
        metadata=metadata,
        allow=pdf.allow,
    )


def _page_digest(page: pikepdf.Page) -> PageDigest:
    contents = page.obj.get("/Contents")
    if isinstance(contents, pikepdf.Stream):
        streams = [contents]
    elif isinstance(contents, pikepdf.Array):
        streams = [item for item in contents if isinstance(item, pikepdf.Stream)]
    else:
        streams = []
    digest = hashlib.sha256()
    try:
        for stream in streams:
            digest.update(stream.read_bytes())
            digest.update(b"\n")
    except pikepdf.PdfError:
        return None
    return digest.digest()


def _fingerprint(pdf: pikepdf.Pdf) -> Fingerprint:
    return Fingerprint(
        pages=tuple(_page_digest(page) for page in pdf.pages),
        permissions=pdf.allow if pdf.is_encrypted else None,
    )


def save_document(document: Document) -> bytes:
    pdf = document.pdf
    if "/Size" not in pdf.trailer:
        pdf.trailer.Size = _PLACEHOLDER_SIZE
    pikepdf.settings.set_flate_compression_level(FLATE_LEVEL)
    out = io.BytesIO()
    pdf.save(
        out,
        object_stream_mode=pikepdf.ObjectStreamMode.generate,
        compress_streams=True,
        recompress_flate=False,
        # qpdf cannot derive the /ID from the content of a file it encrypts
        deterministic_id=document.encryption is None,
        encryption=document.encryption or False,
    )
    return out.getvalue()


def output_problem(output: bytes, expected: Fingerprint) -> str | None:
    """Why ``output`` is not the expected document (for the log), or None when it is."""
    try:
        with pikepdf.open(io.BytesIO(output), attempt_recovery=False) as pdf:
            found = _fingerprint(pdf)
    except (pikepdf.PdfError, pikepdf.PasswordError) as error:
        return f"the output does not open: {error}"
    if len(found.pages) != len(expected.pages):
        return f"{len(expected.pages)} pages became {len(found.pages)}"
    for number, (before, after) in enumerate(zip(expected.pages, found.pages, strict=True), start=1):
        if before is not None and before != after:
            return f"the content of page {number} changed"
    if found.permissions != expected.permissions:
        return f"permissions {expected.permissions} became {found.permissions}"
    return None
