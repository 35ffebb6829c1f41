"""A ticket's QR image: its signed code, rendered by segno (SVG or PNG)."""

from __future__ import annotations

import io

import segno

# Module size and quiet zone (in modules) that phone cameras and gate scanners read well.
SCALE = 6
BORDER = 4


def render_qr(code: str, kind: str) -> bytes:
    """The QR symbol of ``code`` as ``kind`` ("svg" or "png") bytes."""
    # Error correction M; segno picks the smallest version that holds the code.
    symbol = segno.make_qr(code, error="m")
    buffer = io.BytesIO()
    symbol.save(buffer, kind=kind, scale=SCALE, border=BORDER)
    return buffer.getvalue()
