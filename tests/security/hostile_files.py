"""Hostile uploads, built in memory in well under a second each, for the upload tests and
bench/upload_bombs.py.

Every archive is written by `zip_archive`, a small ZIP writer that puts down whatever sizes,
CRCs and compression methods it is told (zipfile cannot write a member that lies), so each
file is exactly the attack it is named after:

- `bzip2_bomb()`: 991 bytes; an OpenDocument-shaped archive whose `mimetype` member is a
  753-byte bzip2 stream that expands to 1,000 MiB (declared honestly).
- `lying_bzip2_bomb()`: the same stream, but the member declares 39 bytes, the length of a real
  ODF mimetype: a check of declared sizes alone lets it through.
- `deflate_bomb()`: ~0.4 MB; `mimetype` and `word/document.xml` each inflate to 200 MiB (deflate
  cannot do better than ~1,030:1), shaped as both an ODF and an OOXML file.
- `lying_deflate_member()`: a Word-shaped archive whose `[Content_Types].xml` declares 100 bytes
  and holds a 200 MiB deflate stream.
- `many_members_zip()`: a Word-shaped archive with 100,000 empty members (~8 MB); with
  `declared_count=2` its end record says it holds two.
- `big_png()`: a real, valid 40-megapixel PNG (8000 x 5000, one colour, ~120 KB).
- `jpeg_with_scans(n)`: a valid progressive JPEG with n scans.
"""

import base64
import functools
import io
import struct
import zlib
from dataclasses import dataclass

STORED, DEFLATED, BZIP2 = 0, 8, 12
MIB = 1024 * 1024
ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="xml" ContentType="application/xml"/></Types>'
)

# bz2.BZ2Compressor(9) fed 1,000 chunks of bytes(1 MiB), then flush(): 753 bytes. Kept as a
# constant because compressing a gigabyte takes ~13 s here; `bench/upload_bombs.py --check`
# inflates it (bounded, chunk by chunk) to show what it holds.
BZIP2_OF_1000_MIB_OF_ZEROS = base64.b64decode(
    "QlpoOTFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkm"
    "U1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFf"
    "jkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAgg"
    "ADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAl"
    "qQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkm"
    "U1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFf"
    "jkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAgg"
    "ADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAl"
    "qQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkm"
    "U1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZQCxKTwEp"
    "IEAIwAAAEAAIIAAwzAUppgIiRsQIiR4u5IpwoSEiv+rq"
)
BZIP2_EXPANDS_TO = 1000 * MIB
BZIP2_CRC = 0x64E9D068  # CRC-32 of 1,000 MiB of zeros


@dataclass(frozen=True)
class Member:
    """One archive member as written: `payload` goes down as is (already compressed for
    `method`); `file_size` and `crc` are what the headers declare, true or not."""

    name: str
    payload: bytes
    method: int = STORED
    file_size: int | None = None  # None: len(payload), right for STORED
    crc: int | None = None  # None: CRC-32 of payload, right for STORED
    flags: int = 0  # general purpose bits; 0x1 says "encrypted"


def zip_archive(members: list[Member], *, declared_count: int | None = None) -> bytes:
    """A ZIP file (local headers, data, central directory, end record) with exactly the declared
    values of `members`; the end record declares `declared_count` members (default: the true
    count, or 65,535 if there are more)."""
    body, directory = bytearray(), bytearray()
    for member in members:
        name = member.name.encode()
        size = len(member.payload) if member.file_size is None else member.file_size
        crc = zlib.crc32(member.payload) if member.crc is None else member.crc
        fields = (20, member.flags, member.method, 0, 0x21, crc, len(member.payload), size, len(name), 0)
        offset = len(body)
        body += struct.pack("<4s5H3I2H", b"PK\x03\x04", *fields) + name + member.payload
        directory += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset) + name
    count = min(len(members), 0xFFFF) if declared_count is None else declared_count
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), 0)
    return bytes(body + directory + end)


def deflate(data_chunks, *, level: int = 9) -> bytes:
    """A raw deflate stream (as ZIP stores it) of the concatenated chunks."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return b"".join(compressor.compress(chunk) for chunk in data_chunks) + compressor.flush()


@functools.cache
def deflated_zeros(mib: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mib` MiB of zeros (~1 KB per MiB) and the zeros' CRC-32."""
    chunk = bytes(MIB)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    return deflate(chunk for _ in range(mib)), crc


def bzip2_bomb() -> bytes:
    return zip_archive(
        [
            Member("mimetype", BZIP2_OF_1000_MIB_OF_ZEROS, BZIP2, file_size=BZIP2_EXPANDS_TO, crc=BZIP2_CRC),
            Member("content.xml", b"<office:document-content/>"),
        ]
    )


def lying_bzip2_bomb() -> bytes:
    return zip_archive(
        [
            Member("mimetype", BZIP2_OF_1000_MIB_OF_ZEROS, BZIP2, file_size=len(ODT_MIMETYPE), crc=0),
            Member("content.xml", b"<office:document-content/>"),
        ]
    )


def deflate_bomb(mib: int = 200) -> bytes:
    payload, crc = deflated_zeros(mib)
    return zip_archive(
        [
            Member("mimetype", payload, DEFLATED, file_size=mib * MIB, crc=crc),
            Member("[Content_Types].xml", CONTENT_TYPES),
            Member("word/document.xml", payload, DEFLATED, file_size=mib * MIB, crc=crc),
        ]
    )


def lying_deflate_member(mib: int = 200) -> bytes:
    payload, _ = deflated_zeros(mib)
    return zip_archive(
        [
            Member("[Content_Types].xml", payload, DEFLATED, file_size=100, crc=0),
            Member("word/document.xml", b"<w:document/>"),
        ]
    )


@functools.cache
def many_members_zip(count: int = 100_000, *, declared_count: int | None = None) -> bytes:
    members = [Member("[Content_Types].xml", CONTENT_TYPES), Member("word/document.xml", b"<w:document/>")]
    members += [Member(f"f/{index:x}", b"") for index in range(count)]
    return zip_archive(members, declared_count=declared_count)


def office_zip(main_part: str = "word/document.xml") -> bytes:
    """A small, honest OOXML file (what a real .docx/.xlsx/.pptx holds at least)."""
    return zip_archive([Member("[Content_Types].xml", CONTENT_TYPES), Member(main_part, b"<document/>")])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def big_png(width: int = 8000, height: int = 5000) -> bytes:
    """A valid RGB PNG of one colour (every row: filter 0, then zeros)."""
    row = bytes(1 + 3 * width)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">2I5B", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def jpeg_with_scans(scans: int, size: tuple[int, int] = (64, 64)) -> bytes:
    """A progressive JPEG whose last scan is repeated until it has `scans` scans in all. libjpeg
    decodes it (a repeated refinement scan only warns), passing over the whole image once per
    scan: ~9 ms a scan for 12 MP here, and a scan can be a few bytes long."""
    from PIL import Image  # tests and the bench have Pillow; the ZIP builders need nothing

    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 40, 200)).save(buffer, format="JPEG", progressive=True, quality=90)
    data = buffer.getvalue()
    last_scan, end = data.rfind(b"\xff\xda"), data.rfind(b"\xff\xd9")
    present = data.count(b"\xff\xda")
    return data[:end] + data[last_scan:end] * max(0, scans - present) + data[end:]
