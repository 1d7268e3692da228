#!/usr/bin/env python3
"""The demo catalog's own product images: a flat illustration per image of every product of
infra/seed/catalog.json, in the product's colour and its category's shape, written to
infra/seed/images/ as small indexed PNGs in two widths:

    <slug>-<n>-320.png   320 x 320
    <slug>-<n>-640.png   640 x 640

and the catalog's image values set to the storefront's path of the larger one,
`/images/<slug>-<n>-640.png` (pages derive the 320 from the name: `-640.` -> `-320.`).
The local stack (infra/local/stack.py) uploads the files into the template's ProductImagesBucket.

Standard library only; the output is the same on every run.   python3 infra/seed/make_images.py
"""

import hashlib
import json
import re
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATALOG = HERE / "catalog.json"
OUT = HERE / "images"
WIDTHS = (320, 640)
LARGEST = max(WIDTHS)

COLOURS = {
    "navy": (38, 52, 92),
    "charcoal": (62, 64, 70),
    "black": (34, 34, 38),
    "white": (236, 234, 228),
    "ivory": (238, 232, 212),
    "cream": (238, 228, 200),
    "grey": (140, 142, 148),
    "gray": (140, 142, 148),
    "heather grey": (160, 160, 166),
    "sand": (214, 192, 152),
    "oat": (216, 200, 168),
    "natural": (222, 208, 178),
    "olive": (110, 112, 64),
    "sage": (150, 170, 140),
    "forest": (44, 84, 58),
    "green": (60, 130, 80),
    "blue": (52, 104, 176),
    "sky": (130, 180, 220),
    "denim": (70, 96, 140),
    "indigo": (58, 56, 120),
    "red": (180, 48, 44),
    "rust": (170, 84, 48),
    "terracotta": (196, 104, 74),
    "burgundy": (110, 30, 48),
    "pink": (226, 150, 164),
    "blush": (230, 184, 176),
    "mustard": (212, 164, 40),
    "yellow": (232, 196, 64),
    "orange": (222, 120, 44),
    "tan": (190, 150, 104),
    "brown": (110, 74, 48),
    "walnut": (96, 64, 42),
    "oak": (190, 150, 100),
    "camel": (192, 150, 96),
    "cognac": (150, 86, 46),
    "silver": (190, 192, 196),
    "gold": (200, 164, 80),
    "copper": (184, 110, 70),
    "slate": (90, 100, 112),
    "stone": (180, 174, 162),
    "clay": (184, 120, 92),
    "teal": (40, 120, 124),
    "purple": (110, 70, 140),
    "lavender": (170, 150, 200),
}


def hashed(text: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{text}".encode()).digest()[:4], "big")


def hue_colour(text: str) -> tuple:
    """A muted colour of its own for a product that names none."""
    import colorsys

    hue = hashed(text, "hue") % 360 / 360
    r, g, b = colorsys.hls_to_rgb(hue, 0.45, 0.45)
    return (int(r * 255), int(g * 255), int(b * 255))


def product_colour(product: dict, n: int) -> tuple:
    """The colour of the product's n-th colour option (the first, or the second for image 2)."""
    names = []
    for variant in product.get("variants", []):
        options = {k.lower(): v for k, v in variant.get("options", {}).items()}
        name = (options.get("colour") or options.get("color") or "").lower()
        if name and name not in names:
            names.append(name)
    if names:
        name = names[(n - 1) % len(names)]
        for known, rgb in COLOURS.items():
            if known in name:
                return rgb
        return hue_colour(name)
    return hue_colour(product["slug"] + str(n))


def mix(a: tuple, b: tuple, t: float) -> tuple:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b))


# -- shapes: each answers, for a row y in [0, 1], the spans [(x0, x1)] it covers -------------


def ellipse(cx, cy, rx, ry):
    def spans(y):
        d = (y - cy) / ry
        if abs(d) > 1:
            return []
        dx = rx * (1 - d * d) ** 0.5
        return [(cx - dx, cx + dx)]

    return spans


def ring(cx, cy, r, inner):
    outer, hole = ellipse(cx, cy, r, r), ellipse(cx, cy, inner, inner)

    def spans(y):
        o, h = outer(y), hole(y)
        if not o:
            return []
        if not h:
            return o
        return [(o[0][0], h[0][0]), (h[0][1], o[0][1])]

    return spans


def rounded(x0, y0, x1, y1, radius):
    def spans(y):
        if y < y0 or y > y1:
            return []
        inset = 0.0
        for edge in (y0 + radius - y, y - (y1 - radius)):
            if edge > 0:
                inset = max(inset, radius - (max(radius * radius - edge * edge, 0)) ** 0.5)
        return [(x0 + inset, x1 - inset)]

    return spans


def triangle(cx, top, half_base, bottom):
    def spans(y):
        if y < top or y > bottom:
            return []
        half = half_base * (y - top) / (bottom - top)
        return [(cx - half, cx + half)]

    return spans


def stripes(shape, y0, period, width):
    """`shape`, only on rows of the stripes from y0 (each `width` of every `period`)."""

    def spans(y):
        if y < y0 or (y - y0) % period > width:
            return []
        return shape(y)

    return spans


def motif(category: str, n: int) -> list:
    """The shapes of an image, as (shape, palette index), drawn in order. Index 2 is the
    product's colour, 3 a darker shade, 4 a lighter one, 1 the shadow."""
    shadow = (ellipse(0.5, 0.86, 0.32, 0.045), 1)
    if category == "apparel":
        body = rounded(0.27, 0.24, 0.73, 0.82, 0.06)
        shapes = [shadow, (body, 2), (ellipse(0.5, 0.24, 0.09, 0.05), 0)]
        shapes += [(rounded(0.16, 0.26, 0.3, 0.58, 0.05), 3), (rounded(0.7, 0.26, 0.84, 0.58, 0.05), 3)]
        if n == 2:
            shapes.append((stripes(body, 0.34, 0.1, 0.03), 4))
        return shapes
    if category == "footwear":
        return [
            (ellipse(0.5, 0.78, 0.38, 0.04), 1),
            (rounded(0.16, 0.56, 0.84, 0.76, 0.08), 2),
            (rounded(0.16, 0.42, 0.5, 0.72, 0.12), 2),
            (rounded(0.14, 0.72, 0.86, 0.78, 0.03), 4 if n == 1 else 3),
            (ellipse(0.34, 0.46, 0.1, 0.05), 3),
        ]
    if category in ("home", "kitchen"):
        shapes = [
            shadow,
            (rounded(0.3, 0.3, 0.66, 0.84, 0.04), 2),
            (ring(0.72, 0.56, 0.12, 0.07), 3),
            (ellipse(0.48, 0.3, 0.18, 0.045), 3),
        ]
        if n == 2:
            shapes.append((stripes(rounded(0.3, 0.3, 0.66, 0.84, 0.04), 0.5, 0.14, 0.04), 4))
        return shapes
    if category == "outdoors":
        shapes = [
            shadow,
            (triangle(0.5, 0.2, 0.36, 0.84), 2),
            (triangle(0.5, 0.46, 0.1, 0.84), 3),
        ]
        if n == 2:
            shapes.append((ellipse(0.78, 0.22, 0.07, 0.07), 4))
        return shapes
    # accessories and anything else
    shapes = [shadow, (ring(0.5, 0.52, 0.3, 0.17), 2), (ellipse(0.5, 0.22, 0.07, 0.07), 3)]
    if n == 2:
        shapes.append((ring(0.5, 0.52, 0.3, 0.26), 4))
    return shapes


def render(product: dict, n: int, size: int) -> bytes:
    colour = product_colour(product, n)
    background = mix(colour, (250, 248, 244), 0.86 if n == 1 else 0.78)
    palette = [
        background,
        mix(background, (0, 0, 0), 0.12),
        colour,
        mix(colour, (0, 0, 0), 0.3),
        mix(colour, (255, 255, 255), 0.4),
    ]
    shapes = motif(product.get("category", ""), n)
    rows = bytearray()
    for py in range(size):
        y = (py + 0.5) / size
        row = bytearray(size)
        for shape, index in shapes:
            for x0, x1 in shape(y):
                a, b = max(0, round(x0 * size)), min(size, round(x1 * size))
                if b > a:
                    row[a:b] = bytes([index]) * (b - a)
        rows += b"\x00" + row
    return png(size, size, palette, bytes(rows))


def png(width: int, height: int, palette: list, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    plte = b"".join(bytes(rgb) for rgb in palette)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", plte)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    text = CATALOG.read_text()
    catalog = json.loads(text)
    OUT.mkdir(exist_ok=True)
    wanted = set()
    for product in catalog["products"]:
        slug = product["slug"]
        for n in range(1, len(product.get("images", [])) + 1):
            for size in WIDTHS:
                name = f"{slug}-{n}-{size}.png"
                wanted.add(name)
                (OUT / name).write_bytes(render(product, n, size))
    for stale in OUT.glob("*.png"):
        if stale.name not in wanted:
            stale.unlink()
    # The catalog names the largest of each image, on the storefront (the text is edited in
    # place, so the file keeps its layout).
    text = re.sub(
        r'"https://picsum\.photos/seed/([a-z0-9-]+)-(\d+)/\d+/\d+"',
        lambda m: f'"/images/{m.group(1)}-{m.group(2)}-{LARGEST}.png"',
        text,
    )
    CATALOG.write_text(text)
    total = sum(path.stat().st_size for path in OUT.glob("*.png"))
    print(f"{len(wanted)} images in {OUT}, {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
