"""config.content_inspection on its own: what each bound accepts and refuses, at its edges.
The hostile files through the real pages and API are in tests/security/test_upload_bounds.py."""

import io
import struct
import tracemalloc
import zipfile

import pytest
from PIL import Image

from accounts.tests.imagedata import png_claiming
from config import content_inspection as inspection
from tests.security import hostile_files as hostile
from tests.security.hostile_files import BZIP2, DEFLATED, STORED, Member

EVERYTHING = inspection.IMAGES | inspection.OFFICE | inspection.OPENDOCUMENT | {inspection.PDF, inspection.TEXT}


def written_by_zipfile(members: dict[str, bytes], *, first_stored: str | None = None) -> bytes:
    """What a real writer produces: deflate, optionally one member stored first (ODF's mimetype)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if first_stored:
            archive.writestr(zipfile.ZipInfo(first_stored), members.pop(first_stored), zipfile.ZIP_STORED)
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def refusal(data: bytes, accept=EVERYTHING) -> inspection.Refused:
    with pytest.raises(inspection.Refused) as caught:
        inspection.inspect(data, accept=accept)
    return caught.value


# --- Office and OpenDocument ----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(inspection.OPENDOCUMENT, key=lambda kind: kind.name), ids=lambda k: k.name)
def test_opendocument_files_are_recognised_by_their_stored_mimetype(kind):
    data = written_by_zipfile(
        {"mimetype": kind.content_type.encode(), "content.xml": b"<office:document-content/>" * 50},
        first_stored="mimetype",
    )
    assert inspection.inspect(data, accept=EVERYTHING).type == kind


@pytest.mark.parametrize(
    ("part", "kind"),
    [
        ("word/document.xml", inspection.DOCX),
        ("xl/workbook.xml", inspection.XLSX),
        ("ppt/presentation.xml", inspection.PPTX),
    ],
)
def test_office_files_are_recognised_by_their_content_types_and_main_part(part, kind):
    data = written_by_zipfile({"[Content_Types].xml": hostile.CONTENT_TYPES, part: b"<x/>" * 100})
    assert inspection.inspect(data, accept=EVERYTHING).type == kind


def test_a_zip_without_the_parts_of_a_document_is_not_accepted():
    assert (
        refusal(written_by_zipfile({"[Content_Types].xml": b"not xml", "word/document.xml": b""})).code == "file_type"
    )
    assert refusal(written_by_zipfile({"readme.txt": b"hello"})).code == "file_type"
    assert refusal(b"PK\x03\x04 and then nothing of a zip").code == "file_type"


def test_an_opendocument_file_is_not_accepted_where_only_office_files_are():
    data = written_by_zipfile({"mimetype": inspection.ODT.content_type.encode()}, first_stored="mimetype")
    assert refusal(data, accept=inspection.OFFICE | {inspection.PDF}).code == "file_type"


def test_exactly_the_member_limit_is_accepted_and_one_more_is_refused():
    members = {"[Content_Types].xml": hostile.CONTENT_TYPES, "word/document.xml": b"<w/>"}
    at_limit = {**members, **{f"media/{i}": b"" for i in range(inspection.ZIP_MAX_MEMBERS - 2)}}
    assert inspection.inspect(written_by_zipfile(at_limit), accept=EVERYTHING).type == inspection.DOCX

    over = refusal(written_by_zipfile({**at_limit, "one/more": b""}))
    assert over.code == "unsafe_archive" and f"more than {inspection.ZIP_MAX_MEMBERS:,} entries" in over.message


def office_with(member: Member) -> bytes:
    return hostile.zip_archive(
        [Member("[Content_Types].xml", hostile.CONTENT_TYPES), Member("word/document.xml", b"<w/>"), member]
    )


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (Member("media/a", b"\x00" * 10, BZIP2, file_size=100), "compression method other than deflate"),
        (Member("media/a", b"\x00" * 10, 14, file_size=100), "compression method other than deflate"),  # LZMA
        (Member("media/a", b"secret", flags=0x1), "encrypted"),
        (Member("media/a", b"\x00" * 1000, DEFLATED, file_size=65 * hostile.MIB), "expands to more than 64"),
        (Member("media/a", b"\x00" * 1000, DEFLATED, file_size=2 * hostile.MIB), "compressed more than 200 to 1"),
        (Member("media/a", b"\x00" * 1000, STORED, file_size=10), "sizes do not add up"),
        (Member("media/a", b"\x00" * 100_000, DEFLATED, file_size=100), "sizes do not add up"),
    ],
    ids=["bzip2", "lzma", "encrypted", "member_too_big", "ratio", "stored_size_lies", "deflate_size_lies"],
)
def test_a_member_out_of_bounds_refuses_the_archive_from_its_declared_values(member, reason):
    refused = refusal(office_with(member))
    assert refused.code == "unsafe_archive" and reason in refused.message, refused.message


def test_members_that_together_expand_past_the_total_are_refused():
    # Five members of 60 MiB each, each within the per-member size and the ratio (payload 1/150)
    members = [
        Member(f"media/{i}", b"\x01" * (60 * hostile.MIB // 150), DEFLATED, file_size=60 * hostile.MIB)
        for i in range(5)
    ]
    archive = hostile.zip_archive([Member("[Content_Types].xml", hostile.CONTENT_TYPES), *members])
    refused = refusal(archive)
    assert refused.code == "unsafe_archive" and "expand to more than 256" in refused.message


def test_zip64_and_split_archives_are_refused_before_zipfile_parses_them():
    data = hostile.office_zip()
    end = data.rfind(b"PK\x05\x06")
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 1)
    assert "ZIP64" in refusal(data[:end] + locator + data[end:]).message
    split = data[:end] + data[end : end + 4] + struct.pack("<H", 1) + data[end + 6 :]
    assert "several disks" in refusal(split).message


def test_an_end_record_that_does_not_end_the_file_is_not_a_zip():
    assert refusal(hostile.office_zip() + b"trailing bytes").code == "file_type"


def test_a_member_is_read_a_few_kilobytes_at_most_whatever_its_size():
    # Given an honest 60 MiB deflated member (within every bound)
    payload, crc = hostile.deflated_zeros(60)
    archive = zipfile.ZipFile(
        io.BytesIO(hostile.zip_archive([Member("big", payload, DEFLATED, 60 * hostile.MIB, crc)]))
    )
    tracemalloc.start()
    try:
        data = inspection.read_member(archive, archive.getinfo("big"), limit=10 * hostile.MIB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) == inspection.ZIP_READ_BYTES
    assert peak < 1 * hostile.MIB


# --- Images ---------------------------------------------------------------------------------


def test_an_image_at_the_pixel_budget_passes_from_its_header_and_one_pixel_more_is_refused(settings):
    settings.UPLOAD_IMAGE_MAX_PIXELS = 16_000_000
    assert inspection.inspect(png_claiming(4000, 4000), accept=EVERYTHING).pixels == 16_000_000
    refused = refusal(png_claiming(4000, 4001))
    assert refused.code == "too_many_pixels" and "16 megapixels" in refused.message


def test_pillows_decompression_bomb_limit_still_refuses_cleanly():
    assert refusal(png_claiming(30_000, 30_000)).code == "too_many_pixels"


def test_a_jpeg_with_more_scans_than_the_limit_is_refused():
    assert (
        inspection.inspect(hostile.jpeg_with_scans(inspection.JPEG_MAX_SCANS), accept=EVERYTHING).type
        == inspection.JPEG
    )
    assert refusal(hostile.jpeg_with_scans(inspection.JPEG_MAX_SCANS + 1)).code == "unsafe_image"


def test_a_phone_jpeg_with_further_pictures_is_a_jpeg_and_decodes_to_its_first(settings):
    # Given a JPEG carrying a second picture (MPF, as phones write depth and gain maps)
    first, second = Image.new("RGB", (64, 48), (200, 0, 0)), Image.new("RGB", (64, 48), (0, 200, 0))
    buffer = io.BytesIO()
    first.save(buffer, format="MPO", save_all=True, append_images=[second])

    inspected = inspection.inspect(buffer.getvalue(), accept=EVERYTHING)

    assert inspected.type == inspection.JPEG
    pixel = inspection.decode_image(buffer.getvalue(), inspected).getpixel((10, 10))
    assert pixel[0] > 150 and pixel[1] < 50


def test_magic_bytes_alone_are_not_an_image_and_a_broken_one_is_bad():
    assert refusal(b"GIF89a but then a shell script\n").code == "file_type"
    assert refusal(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10).code == "bad_image"


def test_an_image_type_that_is_not_accepted_is_refused():
    gif = b"GIF89a" + hostile.big_png(1, 1)  # the magic is enough to decide the type
    assert refusal(gif, accept=inspection.OFFICE | {inspection.PNG}).code == "file_type"


def test_the_total_pixel_budget_counts_images_only(settings):
    settings.UPLOAD_IMAGES_MAX_TOTAL_PIXELS = 1000
    pdf, image = inspection.Inspected(inspection.PDF), inspection.Inspected(inspection.PNG, 20, 25)
    inspection.check_total_pixels([pdf, image, image])
    with pytest.raises(inspection.Refused) as caught:
        inspection.check_total_pixels([image, image, image])
    assert caught.value.code == "too_many_pixels_in_total"


# --- PDF and text ---------------------------------------------------------------------------


def test_a_pdf_is_its_header():
    assert inspection.inspect(b"%PDF-1.7\n%%EOF\n", accept=EVERYTHING).type == inspection.PDF
    assert refusal(b"%PDF-x not a version\x00", accept=EVERYTHING).code == "file_type"


def test_text_is_strict_utf8_checked_in_steps_even_across_a_step_boundary():
    step = inspection.TEXT_STEP_BYTES
    split_character = b"a" * (step - 1) + "é".encode() + b" tail\n"  # é straddles the first step
    assert inspection.is_text(split_character)
    assert inspection.is_text("tab\tcr\r\nff\f ünïcödé 😀\n".encode())
    assert not inspection.is_text(b"a" * (3 * step) + b"\xff")  # invalid at the very end
    assert not inspection.is_text(b"a" * step + "é".encode()[:1])  # cut inside a character
    assert not inspection.is_text(b"ok\x00binary")
    assert not inspection.is_text(b"escape \x1b[31m red")
    assert not inspection.is_text("C1 control \x85".encode())


def test_reading_an_upload_reads_at_most_one_byte_past_the_limit():
    class Upload(io.BytesIO):
        asked: list[int] = []

        def read(self, size=-1):
            self.asked.append(size)
            return super().read(size)

    upload = Upload(b"x" * 100)
    with pytest.raises(inspection.Refused) as caught:
        inspection.read_upload(upload, max_bytes=10)
    assert caught.value.code == "file_too_large" and upload.asked == [11]
