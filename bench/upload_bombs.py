"""What hostile uploads cost the process that inspects them: peak memory and time per file.

    .venv/bin/python bench/upload_bombs.py                 # every case on every upload path
    .venv/bin/python bench/upload_bombs.py --case bzip2_bomb --path chat
    .venv/bin/python bench/upload_bombs.py --check         # also inflate the bzip2 constant (bounded)

Each (path, case) runs in a fresh child process (so one case's peak cannot hide another's) that
calls the function the views call for that path on an in-memory upload: chat attachments
(`chat.attachments.prepare_all`), help-request documents (`helpdesk.documents.check_files`),
avatars (`accounts.images.process_avatar`) and group pictures
(`chat.attachments.prepare_group_picture`). It prints the answer (accepted, or the refusal's
code) and the cost measured by tests/security/resource_use.py: peak memory growth (sampled RSS
and ru_maxrss; with --tracemalloc also Python's own allocations, which slows Python-heavy cases
several times over) and wall/CPU seconds. The files are those of
tests/security/hostile_files.py; a child that runs past --timeout seconds is killed and
reported as such. To measure another checkout (e.g. the code before a fix), copy bench/ and
tests/security/ into it and run it there.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

MB = 1024 * 1024


def _photo(width: int, height: int) -> bytes:
    """A photo-like JPEG (smooth noise, quality 90: ~3 bits a pixel), to time what the budget allows."""
    import io

    from PIL import Image

    noise = Image.effect_noise((width // 6, height // 6), 90).resize((width, height), Image.Resampling.BICUBIC)
    image = Image.merge("RGB", [noise, noise.rotate(180), noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _cases():
    from tests.security import hostile_files as hostile

    text = b"The quick brown fox jumps over the lazy dog.\n" * (9 * MB // 45)
    return {
        "bzip2_bomb": lambda: [("bomb.odt", hostile.bzip2_bomb())],
        "lying_bzip2_bomb": lambda: [("liar.odt", hostile.lying_bzip2_bomb())],
        "deflate_bomb": lambda: [("bomb.docx", hostile.deflate_bomb())],
        "lying_deflate_member": lambda: [("liar.docx", hostile.lying_deflate_member())],
        "many_members": lambda: [("many.docx", hostile.many_members_zip())],
        "many_members_lying_count": lambda: [("many.docx", hostile.many_members_zip(declared_count=2))],
        "png_40mp": lambda: [("big.png", hostile.big_png())],
        "png_40mp_x5": lambda: [(f"big{i}.png", hostile.big_png()) for i in range(5)],
        "png_12mp_x5": lambda: [(f"photo{i}.png", hostile.big_png(4000, 3000)) for i in range(5)],
        "jpeg_photo_16mp_x4": lambda: [(f"photo{i}.jpg", _photo(4896, 3264)) for i in range(4)],
        "jpeg_photo_12mp_x5": lambda: [(f"photo{i}.jpg", _photo(4000, 3000)) for i in range(5)],
        "jpeg_41_scans": lambda: [("scans.jpg", hostile.jpeg_with_scans(41))],
        "text_9mb_x5": lambda: [(f"notes{i}.txt", text) for i in range(5)],
        "office_ok": lambda: [("essay.docx", hostile.office_zip())],
    }


PATHS = ("chat", "helpdesk", "avatar", "group_picture")
IMAGE_ONLY_PATHS = ("avatar", "group_picture")


def _child(path: str, case: str, trace_python: bool) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.exceptions import ValidationError
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts import images
    from chat import attachments
    from chat.services import ChatError
    from helpdesk import documents
    from tests.security.resource_use import measured

    built = _cases()[case]()
    files = [SimpleUploadedFile(name, data) for name, data in built]
    call = {
        "chat": lambda: attachments.prepare_all(files),
        "helpdesk": lambda: documents.check_files(files),
        "avatar": lambda: [images.process_avatar(upload) for upload in files],
        "group_picture": lambda: [attachments.prepare_group_picture(upload) for upload in files],
    }[path]
    answer = "accepted"
    with measured(trace_python=trace_python) as use:
        try:
            call()
        except ChatError as error:
            answer = f"refused: {error.code}"
        except ValidationError as error:
            answer = "refused: " + ",".join(sorted({e.code or "?" for e in error.error_list}))
    return {
        "answer": answer,
        "upload_bytes": sum(len(data) for _, data in built),
        "peak_mb": round(use.peak_growth / MB, 1),
        "seconds": round(use.seconds, 2),
        "cpu_seconds": round(use.cpu_seconds, 2),
    }


def _check_constant() -> None:
    import bz2

    from tests.security.hostile_files import BZIP2_EXPANDS_TO, BZIP2_OF_1000_MIB_OF_ZEROS

    decompressor, total, data = bz2.BZ2Decompressor(), 0, BZIP2_OF_1000_MIB_OF_ZEROS
    while not decompressor.eof:
        chunk = decompressor.decompress(data, max_length=8 * MB)
        data = b""
        if chunk.strip(b"\0"):
            raise SystemExit("the bzip2 constant holds something other than zeros")
        total += len(chunk)
    print(f"bzip2 constant: {len(BZIP2_OF_1000_MIB_OF_ZEROS)} bytes inflate to {total:,} bytes of zeros")
    assert total == BZIP2_EXPANDS_TO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", choices=PATHS, action="append")
    parser.add_argument("--case", action="append")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child, trace_python=args.tracemalloc)))
        return
    if args.check:
        _check_constant()
    cases = args.case or list(_cases())
    print(f"{'path':<14} {'case':<26} {'upload':>10} {'answer':<36} {'peak MB':>8} {'wall s':>7} {'cpu s':>6}")
    for path in args.path or PATHS:
        for case in cases:
            if path in IMAGE_ONLY_PATHS and not case.startswith(("png", "jpeg")):
                continue
            started = time.perf_counter()
            try:
                run = subprocess.run(
                    [sys.executable, __file__, "--child", path, case, *(["--tracemalloc"] if args.tracemalloc else [])],
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                    cwd=BASE_DIR,
                )
            except subprocess.TimeoutExpired:
                elapsed = time.perf_counter() - started
                print(f"{path:<14} {case:<26} {'':>10} {'killed after --timeout':<36} {'':>8} {elapsed:7.1f}")
                continue
            if run.returncode:
                print(f"{path:<14} {case:<26} child failed:\n{run.stderr[-2000:]}")
                continue
            row = json.loads(run.stdout.strip().splitlines()[-1])
            print(
                f"{path:<14} {case:<26} {row['upload_bytes']:>10,} {row['answer']:<36} {row['peak_mb']:>8} "
                f"{row['seconds']:>7} {row['cpu_seconds']:>6}"
            )


if __name__ == "__main__":
    main()
