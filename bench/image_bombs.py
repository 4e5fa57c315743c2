#!/usr/bin/env python3
"""Decoder bombs that libvips cannot shrink while decoding, next to the ones it can.

libvips shrinks a baseline JPEG, a non-interlaced PNG and a lossy WebP while it decodes them, but
decodes a progressive JPEG, an Adam7-interlaced PNG and a lossless WebP whole, at full size. For
each kind below the script makes the file (once, kept in the temp dir), then, in a fresh process,
calls the service's `process_image` from four threads at once, as four concurrent uploads reach a
worker of the real server, and prints what each upload got (stored, or the 400's message) and the
peak resident memory the process added (its VmHWM minus its RSS before the uploads).

The "largest accepted" files are the biggest squares within cms.services.images.WHOLE_DECODE_BYTES:
four concurrent uploads of them are the most a worker can be made to hold.

    .venv/bin/python bench/image_bombs.py                      # this tree
    .venv/bin/python bench/image_bombs.py --tree /tmp/cms-main # another checkout's service code
    .venv/bin/python bench/image_bombs.py --kinds png-bomb,jpeg-bomb
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDE = 10_000
UPLOADS = 4
# The budget of this tree's service (the sizes of the "largest accepted" files are derived from it).
BUDGET_BYTES = 128 * 1024 * 1024


def status_kb(field: str) -> int:
    """VmRSS (resident now) or VmHWM (the peak) of this process, in KB. Not ru_maxrss: Linux keeps that
    across exec, so a child forked from this script, which grew making the files, started at its size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def picture(side: int, bands: int = 3):
    """A side×side picture of a few flat rectangles (it compresses to a small file, as bombs do)."""
    import pyvips

    fill = [200, 30, 30, 255][:bands], [20, 90, 200, 160][:bands]
    image = pyvips.Image.black(side, side, bands=bands)
    image = image.draw_rect(fill[0], 0, 0, side // 2, side // 3, fill=True)
    image = image.draw_rect(fill[1], side // 3, side // 2, side // 2, side // 3, fill=True)
    return image.cast("uchar")


def gradient(side: int):
    """Every pixel a colour of its own position: the worst case for a lossless WebP decode (with few
    colours libwebp decodes packed palette indexes, a quarter of the memory)."""
    import pyvips

    xy = pyvips.Image.xyz(side, side)
    return (xy[0] % 256).bandjoin([xy[1] % 256, (xy[0] + xy[1]) % 256]).cast("uchar")


def rgba16(side: int):
    return (picture(side, 4).cast("ushort") * 257).cast("ushort").copy(interpretation="rgb16")


def largest_side(bytes_per_pixel: float) -> int:
    return math.isqrt(int(BUDGET_BYTES // bytes_per_pixel))


# name -> (what it is, side, how to write it)
KINDS: dict[str, tuple[str, int, Callable[[int, Path], None]]] = {
    "png-bomb": ("interlaced PNG, 16-bit RGBA (the review's bomb)", SIDE,
                 lambda side, path: rgba16(side).pngsave(str(path), interlace=True, bitdepth=16, compression=9)),
    "jpeg-bomb": ("progressive JPEG, 4:4:4 (the review's bomb)", SIDE,
                  lambda side, path: picture(side).jpegsave(str(path), interlace=True, subsample_mode="off", Q=90)),
    "webp-bomb": ("lossless WebP", SIDE,
                  lambda side, path: gradient(side).webpsave(str(path), lossless=True, effort=0)),
    "png-largest": ("interlaced PNG, 16-bit RGBA, largest accepted", largest_side(8),
                    lambda side, path: rgba16(side).pngsave(str(path), interlace=True, bitdepth=16, compression=9)),
    "jpeg-largest": ("progressive JPEG, 4:4:4, largest accepted", largest_side(6),
                     lambda side, path: picture(side).jpegsave(str(path), interlace=True, subsample_mode="off", Q=90)),
    "webp-largest": ("lossless WebP, largest accepted", largest_side(4),
                     lambda side, path: gradient(side).webpsave(str(path), lossless=True, effort=0)),
    "jpeg-baseline": ("baseline JPEG, 4:4:4 (shrunk while decoding)", SIDE,
                      lambda side, path: picture(side).jpegsave(str(path), subsample_mode="off", Q=90)),
    "png-plain": ("PNG, not interlaced (streamed)", SIDE,
                  lambda side, path: picture(side).pngsave(str(path), compression=9)),
}


def make(kind: str) -> Path:
    _, side, write = KINDS[kind]
    path = Path(tempfile.gettempdir()) / f"cms-bench-bomb2-{kind}-{side}.{kind.split('-')[0]}"
    if not path.exists():
        partial = path.with_suffix(".partial")
        write(side, partial)
        partial.rename(path)
    return path


def child(tree: str, path: str) -> None:
    """Four threads upload the file at once through the service code of `tree`."""
    sys.path.insert(0, tree)
    import pyvips  # noqa: F401 - loaded before the baseline, as in a running worker

    from cms.errors import Invalid
    from cms.services import images

    assert Path(images.__file__).is_relative_to(tree), images.__file__
    data = Path(path).read_bytes()
    outcomes: list[str] = [""] * UPLOADS
    barrier = threading.Barrier(UPLOADS)

    def upload(index: int) -> None:
        barrier.wait()
        try:
            processed = images.process_image(f"'{Path(path).name}'", data)
            outcomes[index] = f"stored {processed.width}x{processed.height}"
        except Invalid as error:
            outcomes[index] = f"400 {error}"

    before = status_kb("VmRSS")
    started = time.perf_counter()
    threads = [threading.Thread(target=upload, args=(n,)) for n in range(UPLOADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    peak = status_kb("VmHWM")
    print(json.dumps({"peak_added_mb": (peak - before) / 1024, "seconds": elapsed, "outcomes": outcomes}))


def measure(tree: Path, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(tree), str(path)], check=True,
                         capture_output=True, text=True, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("TREE", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=str(ROOT), help="the checkout whose cms/ is measured (default: this one)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of: {', '.join(KINDS)}")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    tree = Path(args.tree).resolve()
    print(f"service code: {tree}; {UPLOADS} concurrent uploads per kind, one process each", flush=True)
    for kind in args.kinds.split(","):
        what, side, _ = KINDS[kind]
        path = make(kind)
        result = measure(tree, path)
        counted = " | ".join(f"{result['outcomes'].count(o)} x {o}" for o in sorted(set(result["outcomes"])))
        print(f"{kind:14} {what}: {side}x{side} px, {path.stat().st_size / 1024:,.0f} KB -> "
              f"peak +{result['peak_added_mb']:,.0f} MB, {result['seconds']:.1f} s; {counted}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
