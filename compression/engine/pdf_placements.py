"""Where a PDF draws its images: the largest size (in points) each image XObject is placed at,
from the pages' content streams and their nested forms. Lossy types resample an image drawn at
more than ~150 dpi to 150 dpi; an image whose placement is unknown keeps its size."""

import math

import pikepdf

# Lossy types resample images drawn above TARGET_DPI * DOWNSAMPLE_THRESHOLD to TARGET_DPI.
TARGET_DPI = 150
DOWNSAMPLE_THRESHOLD = 1.1
POINTS_PER_INCH = 72
# Form XObjects nest; deeper ones are not followed (their images keep their resolution).
MAX_FORM_DEPTH = 8
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

Matrix = tuple[float, float, float, float, float, float]


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


class Placements:
    """Largest size (points) each image XObject is drawn at; images in unreadable content are
    marked unknown and never resampled."""

    def __init__(self) -> None:
        self.size: dict[tuple[int, int], tuple[float, float]] = {}
        self.unknown: set[tuple[int, int]] = set()

    def walk(self, content: pikepdf.Object, resources: pikepdf.Object, ctm: Matrix, depth: int) -> None:
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(xobjects, pikepdf.Dictionary):
            return
        try:
            instructions = pikepdf.parse_content_stream(content, "q Q cm Do")
        except (pikepdf.PdfError, ValueError):
            self._all_unknown(xobjects)
            return
        stack: list[Matrix] = []
        for instruction in instructions:
            operands, op = instruction.operands, str(instruction.operator)
            if op == "q":
                stack.append(ctm)
            elif op == "Q":
                ctm = stack.pop() if stack else ctm
            elif op == "cm" and len(operands) == 6:
                ctm = _multiply(tuple(float(x) for x in operands), ctm)  # type: ignore[arg-type]
            elif op == "Do" and operands:
                self._draw(xobjects.get(str(operands[0])), ctm, depth)

    def _draw(self, xobject: pikepdf.Object | None, ctm: Matrix, depth: int) -> None:
        if not isinstance(xobject, pikepdf.Stream):
            return
        subtype = xobject.get("/Subtype")
        if subtype == "/Image":
            key = xobject.objgen
            width, height = math.hypot(ctm[0], ctm[1]), math.hypot(ctm[2], ctm[3])
            old = self.size.get(key, (0.0, 0.0))
            self.size[key] = (max(old[0], width), max(old[1], height))
        elif subtype == "/Form":
            resources = xobject.get("/Resources")
            if depth >= MAX_FORM_DEPTH or resources is None:
                if isinstance(resources, pikepdf.Dictionary):
                    self._all_unknown(resources.get("/XObject"))
                return
            matrix = xobject.get("/Matrix")
            form: Matrix = _IDENTITY
            if isinstance(matrix, pikepdf.Array) and len(matrix) == 6:
                form = tuple(float(x) for x in matrix)  # type: ignore[assignment]
            self.walk(xobject, resources, _multiply(form, ctm), depth + 1)

    def _all_unknown(self, xobjects: pikepdf.Object | None) -> None:
        if isinstance(xobjects, pikepdf.Dictionary):
            for value in xobjects.values():
                if isinstance(value, pikepdf.Stream):
                    self.unknown.add(value.objgen)

    def scale(self, image: pikepdf.Stream) -> float:
        """Factor (<= 1) bringing the image to TARGET_DPI of its largest placement."""
        key = image.objgen
        if key in self.unknown or key not in self.size:
            return 1.0
        placed_w, placed_h = self.size[key]
        if placed_w <= 0 or placed_h <= 0:
            return 1.0
        dpi = min(
            int(image.Width) / (placed_w / POINTS_PER_INCH), int(image.Height) / (placed_h / POINTS_PER_INCH)
        )
        if dpi <= TARGET_DPI * DOWNSAMPLE_THRESHOLD:
            return 1.0
        return TARGET_DPI / dpi


def image_placements(pdf: pikepdf.Pdf) -> Placements:
    found = Placements()
    for page in pdf.pages:
        found.walk(page.obj, page.obj.get("/Resources", pikepdf.Dictionary()), _IDENTITY, 0)
    return found
