"""Draw the sandbox's placeholder face photo and write it as a baseline JPEG.

Run once by hand; its output, static/sandbox/jumdata-face.jpg, is committed:

    .venv/bin/python sandbox/make_placeholder_face.py

It uses the standard library only, so the asset can be remade on any machine
without an imaging package. The encoder is the smallest one a decoder must
accept: baseline DCT, 4:4:4 (no chroma subsampling), and Huffman tables with a
fixed code length for every symbol (valid JPEG, just a few bytes larger than
the optimised Annex K tables would give).
"""

import math
import struct
import sys
from pathlib import Path

WIDTH, HEIGHT = 240, 320
QUALITY = 85
OUTPUT = Path(__file__).resolve().parent / "static" / "sandbox" / "jumdata-face.jpg"

# --- The picture -------------------------------------------------------------

GLYPHS = {  # 5x7 bitmap letters, enough for the caption
    "S": ["01111", "10000", "10000", "01110", "00001", "00001", "11110"],
    "A": ["01110", "10001", "10001", "11111", "10001", "10001", "10001"],
    "N": ["10001", "11001", "10101", "10011", "10001", "10001", "10001"],
    "D": ["11110", "10001", "10001", "10001", "10001", "10001", "11110"],
    "B": ["11110", "10001", "10001", "11110", "10001", "10001", "11110"],
    "O": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    "X": ["10001", "10001", "01010", "00100", "01010", "10001", "10001"],
}
CAPTION, CAPTION_SCALE, CAPTION_TOP = "SANDBOX", 4, 282


def inside_ellipse(x, y, cx, cy, rx, ry):
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def caption_pixel(x, y):
    width = (len(CAPTION) * 6 - 1) * CAPTION_SCALE
    left = (WIDTH - width) // 2
    col, row = (x - left) // CAPTION_SCALE, (y - CAPTION_TOP) // CAPTION_SCALE
    if not (0 <= row < 7 and 0 <= col < len(CAPTION) * 6) or x < left:
        return False
    letter, dx = divmod(col, 6)
    return dx < 5 and GLYPHS[CAPTION[letter]][row][dx] == "1"


def pixel(x, y):
    if y >= CAPTION_TOP - 8:  # red band with the caption: nobody mistakes it for a person
        return (255, 255, 255) if caption_pixel(x, y) else (190, 30, 45)
    if inside_ellipse(x, y, 92, 118, 9, 5) or inside_ellipse(x, y, 148, 118, 9, 5):
        return (40, 30, 25)  # eyes
    if inside_ellipse(x, y, 120, 170, 20, 6) and y >= 168:
        return (150, 60, 60)  # mouth
    if inside_ellipse(x, y, 120, 84, 66, 48) and y < 92:
        return (60, 40, 30)  # hair
    if inside_ellipse(x, y, 120, 125, 60, 78):
        return (236, 196, 164)  # face
    if 100 <= x <= 140 and 180 <= y <= 230:
        return (222, 180, 148)  # neck
    if inside_ellipse(x, y, 120, 300, 115, 75):
        return (45, 70, 110)  # shoulders
    shade = 225 - y // 10  # a soft vertical gradient, like a studio backdrop
    return (shade - 20, shade - 8, shade)


# --- The encoder -------------------------------------------------------------

ZIGZAG = sorted(
    ((x, y) for y in range(8) for x in range(8)),
    key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 else p[0]),
)
ZIGZAG = [y * 8 + x for x, y in ZIGZAG]

LUMA_QUANT = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]  # fmt: skip
CHROMA_QUANT = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32  # fmt: skip


def scaled(table):
    factor = 5000 / QUALITY if QUALITY < 50 else 200 - 2 * QUALITY
    return [min(255, max(1, (q * factor + 50) // 100)) for q in table]


DC_SYMBOLS = list(range(12))
AC_SYMBOLS = [0x00, 0xF0] + [(run << 4) | size for run in range(16) for size in range(1, 11)]
DC_LENGTH, AC_LENGTH = 4, 8  # 12 of 16 and 162 of 256 codes: never the all-ones code


def fixed_codes(symbols, length):
    return {symbol: (code, length) for code, symbol in enumerate(symbols)}


COS = [[math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]
SCALE = [math.sqrt(0.5)] + [1.0] * 7


def fdct(block):
    rows = [[sum(block[y * 8 + x] * COS[u][x] for x in range(8)) for u in range(8)] for y in range(8)]
    return [
        0.25 * SCALE[u] * SCALE[v] * sum(rows[y][u] * COS[v][y] for y in range(8))
        for v in range(8)
        for u in range(8)
    ]


class BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.count = 0

    def write(self, value, length):
        for shift in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> shift) & 1)
            self.count += 1
            if self.count == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0x00)  # byte stuffing
                self.acc = self.count = 0

    def flush(self):
        if self.count:
            self.write((1 << (8 - self.count)) - 1, 8 - self.count)


def magnitude(value):
    size = abs(value).bit_length()
    return size, (value if value >= 0 else value + (1 << size) - 1)


def encode_block(bits, coefficients, previous_dc, dc_codes, ac_codes):
    diff = coefficients[0] - previous_dc
    size, value = magnitude(diff)
    bits.write(*dc_codes[size])
    bits.write(value, size)
    run = 0
    for coefficient in coefficients[1:]:
        if coefficient == 0:
            run += 1
            continue
        while run > 15:
            bits.write(*ac_codes[0xF0])
            run -= 16
        size, value = magnitude(coefficient)
        bits.write(*ac_codes[(run << 4) | size])
        bits.write(value, size)
        run = 0
    if run:
        bits.write(*ac_codes[0x00])
    return coefficients[0]


def segment(marker, payload):
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def huffman_table(table_class, table_id, symbols, length):
    counts = [0] * 16
    counts[length - 1] = len(symbols)
    return bytes([table_class << 4 | table_id, *counts, *symbols])


def encode():
    quant = [scaled(LUMA_QUANT), scaled(CHROMA_QUANT)]
    dc_codes, ac_codes = fixed_codes(DC_SYMBOLS, DC_LENGTH), fixed_codes(AC_SYMBOLS, AC_LENGTH)
    planes = [[0.0] * (WIDTH * HEIGHT) for _ in range(3)]
    for y in range(HEIGHT):
        for x in range(WIDTH):
            r, g, b = pixel(x, y)
            i = y * WIDTH + x
            planes[0][i] = 0.299 * r + 0.587 * g + 0.114 * b - 128
            planes[1][i] = -0.168736 * r - 0.331264 * g + 0.5 * b
            planes[2][i] = 0.5 * r - 0.418688 * g - 0.081312 * b

    bits, previous = BitWriter(), [0, 0, 0]
    for by in range(0, HEIGHT, 8):
        for bx in range(0, WIDTH, 8):
            for component in range(3):
                plane, table = planes[component], quant[min(component, 1)]
                block = [plane[(by + y) * WIDTH + bx + x] for y in range(8) for x in range(8)]
                dct = fdct(block)
                coefficients = [round(dct[k] / table[k]) for k in ZIGZAG]
                previous[component] = encode_block(
                    bits, coefficients, previous[component], dc_codes, ac_codes
                )
    bits.flush()

    jfif = b"JFIF\x00" + struct.pack(">BBBHHBB", 1, 1, 0, 1, 1, 0, 0)
    dqt = b"".join(bytes([table_id, *(quant[table_id][k] for k in ZIGZAG)]) for table_id in (0, 1))
    sof = struct.pack(">BHHB", 8, HEIGHT, WIDTH, 3) + bytes([1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1])
    dht = b"".join(
        huffman_table(table_class, table_id, symbols, length)
        for table_class, symbols, length in ((0, DC_SYMBOLS, DC_LENGTH), (1, AC_SYMBOLS, AC_LENGTH))
        for table_id in (0, 1)
    )
    sos = bytes([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0])
    return b"".join(
        [
            b"\xff\xd8",
            segment(0xFFE0, jfif),
            segment(0xFFDB, dqt),
            segment(0xFFC0, sof),
            segment(0xFFC4, dht),
            segment(0xFFDA, sos),
            bytes(bits.out),
            b"\xff\xd9",
        ]
    )


if __name__ == "__main__":
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(encode())
    sys.stdout.write(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)\n")
