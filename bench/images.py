#!/usr/bin/env python3
"""Image decoding cost (issue 13): Pillow vs libvips (pyvips + pyvips-binary) on the upload the
security review used, a 10000x10000 px PNG of a few hundred KB (inside the contract's limits).

Each library runs in a fresh process: open, make upright, fit in 1920x1080, JPEG q85; the script
prints the peak resident memory the process added (ru_maxrss minus the RSS before decoding) and the
wall time. `--service URL` also drives a running service: four concurrent uploads of the same file
(max size) while /ping is polled, reporting the service's added memory (sum of its processes' RSS
from /proc, sampled every 50 ms) and /ping latencies.

    .venv/bin/python bench/images.py                      # both libraries, one process each
    .venv/bin/python bench/images.py --service http://127.0.0.1:4000 --pids 123,456 \\
        --token JWT --car 5                               # the service under four uploads
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDE = 10_000


def bomb_png(path: Path) -> Path:
    """A 10000x10000 PNG that compresses to a few hundred KB (made once, kept in the temp dir)."""
    if not path.exists():
        import pyvips

        image = pyvips.Image.black(SIDE, SIDE, bands=3).draw_rect([200, 30, 30], 0, 0, SIDE // 2, SIDE // 3, fill=True)
        image = image.draw_rect([20, 90, 200], SIDE // 3, SIDE // 2, SIDE // 2, SIDE // 3, fill=True)
        image.cast("uchar").pngsave(str(path), compression=9)
    return path


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_pillow(data: bytes) -> tuple[int, int]:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = SIDE * SIDE
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        image = ImageOps.exif_transpose(image).convert("RGB")
        image.thumbnail((1920, 1080), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85, optimize=True)
    return image.size


def run_service_code(data: bytes) -> tuple[int, int]:
    from cms.services.images import process_image

    processed = process_image("bench", data)
    return processed.width, processed.height


def child(library: str, path: str) -> None:
    data = Path(path).read_bytes()
    if library == "pyvips":
        import pyvips  # noqa: F401 - loaded before the baseline, like in a running worker
    else:
        import PIL.Image  # noqa: F401
    sys.path.insert(0, str(ROOT))
    before = rss_kb()
    started = time.perf_counter()
    size = run_pillow(data) if library == "pillow" else run_service_code(data)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"library": library, "peak_added_mb": (peak - before) / 1024, "seconds": elapsed,
                      "after_mb": (rss_kb() - before) / 1024, "size": size}))


def measure_libraries(path: Path) -> list[dict]:
    results = []
    for library in ("pillow", "pyvips"):
        out = subprocess.run([sys.executable, __file__, "--child", library, str(path)], check=True,
                             capture_output=True, text=True, cwd=ROOT)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def service_rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def measure_service(url: str, pids: list[int], token: str, car_id: int, path: Path, uploads: int = 4) -> dict:
    """Four concurrent uploads of the file to a car of the token's seller, /ping polled meanwhile."""
    import requests

    data = path.read_bytes()
    baseline = service_rss_mb(pids)
    peak = baseline
    pings: list[float] = []
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, service_rss_mb(pids))
            time.sleep(0.05)

    def ping():
        while not done.is_set():
            started = time.perf_counter()
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=30).read()
                pings.append((time.perf_counter() - started) * 1000)
            except OSError:
                pings.append(float("inf"))
            time.sleep(0.1)

    def upload(_):
        response = requests.post(f"{url}/api/cars/{car_id}/images", headers={"Authorization": f"Bearer {token}"},
                                 files={"images": ("bomb.png", data, "image/png")}, timeout=300)
        return response.status_code

    watchers = [threading.Thread(target=sample), threading.Thread(target=ping)]
    for thread in watchers:
        thread.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=uploads) as pool:
        statuses = list(pool.map(upload, range(uploads)))
    elapsed = time.perf_counter() - started
    time.sleep(1.0)
    done.set()
    for thread in watchers:
        thread.join()
    return {
        "uploads": uploads, "statuses": statuses, "seconds": round(elapsed, 2),
        "rss_before_mb": round(baseline, 1), "peak_added_mb": round(peak - baseline, 1),
        "added_after_mb": round(service_rss_mb(pids) - baseline, 1),
        "ping_p50_ms": round(statistics.median(pings), 1) if pings else None,
        "ping_max_ms": round(max(pings), 1) if pings else None, "pings": len(pings),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--service", help="base URL of a running service to upload to")
    parser.add_argument("--pids", default="", help="the service's process ids (comma-separated)")
    parser.add_argument("--token", default="", help="a seller's JWT")
    parser.add_argument("--car", type=int, default=0, help="a car of that seller")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    path = bomb_png(Path(tempfile.gettempdir()) / "cms-bench-10000px.png")
    print(f"file: {path.name}, {SIDE}x{SIDE} px, {path.stat().st_size / 1024:.0f} KB", flush=True)
    if args.service:
        pids = [int(pid) for pid in args.pids.split(",") if pid]
        print(json.dumps(measure_service(args.service, pids, args.token, args.car, path)))
        return 0
    for result in measure_libraries(path):
        print(f"{result['library']:8} peak +{result['peak_added_mb']:.0f} MB, {result['seconds']:.2f} s, "
              f"kept +{result['after_mb']:.0f} MB, stored {result['size'][0]}x{result['size'][1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
