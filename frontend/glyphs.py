"""Glyph PBFs for the map's text labels, made from a Debian font at build time (no glyph server).

MapLibre draws symbol text from signed-distance-field glyphs fetched as protobuf files
``<fontstack>/<first>-<last>.pbf``, 256 code points each (the format of mapbox/glyph-pbf and
fontnik). Here each glyph of DejaVu Sans (Debian's ``fonts-dejavu-core``) is drawn at MapLibre's
24 px em by Pillow (FreeType), its signed distance field taken with SciPy's Euclidean distance
transform, and encoded as MapLibre's tiny-sdf does (radius 8 px, cutoff 0.25, a 3 px border).

    python frontend/glyphs.py OUT_DIR        # writes OUT_DIR/DejaVu Sans/0-255.pbf ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import distance_transform_edt

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONTSTACK = "DejaVu Sans"
EM_PX = 24  # MapLibre's ONE_EM: glyphs are drawn at 24 px
BORDER_PX = 3  # MapLibre's GLYPH_PBF_BORDER
RADIUS_PX = 8.0
CUTOFF = 0.25
#: MapLibre places a glyph's bitmap by its ``top`` relative to this line (as for its own
#: locally drawn glyphs, GlyphManager's topAdjustment)
TOP_ADJUST_PX = 27


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint((number << 3) | wire)


def _uint(number: int, value: int) -> bytes:
    return _field(number, 0) + _varint(value)


def _sint(number: int, value: int) -> bytes:
    return _uint(number, (value << 1) ^ (value >> 63))  # zigzag


def _bytes(number: int, value: bytes) -> bytes:
    return _field(number, 2) + _varint(len(value)) + value


def sdf(alpha: np.ndarray) -> np.ndarray:
    """Signed distance field (uint8) of a glyph's coverage (0-255): 192 on the outline, higher
    inside, falling by 255/RADIUS_PX per pixel outside (tiny-sdf's encoding)."""
    inside = alpha >= 128
    outer = distance_transform_edt(~inside)
    inner = distance_transform_edt(inside)
    distance = outer - inner  # px, positive outside
    return np.clip(np.round(255 - 255 * (distance / RADIUS_PX + CUTOFF)), 0, 255).astype(np.uint8)


def glyph(font: ImageFont.FreeTypeFont, code: int) -> bytes:
    """One ``glyph`` message: id, SDF bitmap, width, height, left, top, advance (px at 24 px)."""
    char = chr(code)
    advance = round(font.getlength(char))
    left, top, right, bottom = font.getbbox(char, anchor="ls")  # origin on the baseline
    width, height = max(0, right - left), max(0, bottom - top)
    message = _uint(1, code)
    if width and height:
        image = Image.new("L", (width + 2 * BORDER_PX, height + 2 * BORDER_PX), 0)
        ImageDraw.Draw(image).text(
            (BORDER_PX - left, BORDER_PX - top), char, font=font, fill=255, anchor="ls"
        )
        message += _bytes(2, sdf(np.asarray(image)).tobytes())
    message += _uint(3, width) + _uint(4, height) + _sint(5, left)
    message += _sint(6, -top - TOP_ADJUST_PX) + _uint(7, max(0, advance))
    return message


def glyph_range(font: ImageFont.FreeTypeFont, codes: set[int], start: int) -> bytes:
    """The PBF of code points ``start`` .. ``start + 255`` (those the font has)."""
    stack = _bytes(1, FONTSTACK.encode()) + _bytes(2, f"{start}-{start + 255}".encode())
    for code in range(start, start + 256):
        if code in codes and not 0xD800 <= code <= 0xDFFF:
            stack += _bytes(3, glyph(font, code))
    return _bytes(1, stack)


def write_glyphs(out: Path, font_path: Path = FONT) -> int:
    """Write every 256-code-point range of the Basic Multilingual Plane; returns the glyphs."""
    codes = set(TTFont(font_path)["cmap"].getBestCmap())
    # one character at a time: no shaping (raqm) needed, nor wanted for control characters
    font = ImageFont.truetype(str(font_path), EM_PX, layout_engine=ImageFont.Layout.BASIC)
    folder = out / FONTSTACK
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, 65536, 256):
        (folder / f"{start}-{start + 255}.pbf").write_bytes(glyph_range(font, codes, start))
    return sum(1 for c in codes if c < 65536)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python frontend/glyphs.py OUT_DIR")
    if not FONT.exists():
        sys.exit(f"{FONT} is missing: install Debian's fonts-dejavu-core")
    n = write_glyphs(Path(sys.argv[1]))
    print(f"{n} glyphs of {FONTSTACK} written to {sys.argv[1]}")
