"""Disk taken by refused uploads on SQLite: the database file and its write-ahead log,
sampled while uploads are staged and then discarded.

    .venv/bin/python benchmarks/upload_disk.py [--uploads 4] [--rounds 2]

The reporter portal runs as ``sipadu serve`` runs it, with its defaults (500 MiB per
request and per file, 20 files, 4 upload slots per worker), on a fresh SQLite instance.
Each upload is a real report (CSRF and submission tokens, form fields) whose body stays under the
request limit but carries 21 files of 23 MiB: the first 20 (460 MiB) are encrypted and
staged as they arrive, the 21st is one too many, so the whole submission is refused and
its staged files discarded. ``--uploads`` run at once (the upload slots of one worker),
``--rounds`` times. Every 20 ms the apparent size of ``sipadu.db`` + ``sipadu.db-wal``
is sampled; last line: key=value figures in MiB.
"""

import argparse
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upload import free_port, report_fields, wait_port

MIB = 1024 * 1024
FILES, FILE_MIB = 21, 23


def refused_upload(port: int) -> int:
    """One submission of FILES files of FILE_MIB MiB; its HTTP status."""
    fields, cookie = report_fields(port)
    boundary = "----sipadu-disk"
    buffer = os.urandom(MIB)
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ).encode()
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
        f'filename="f.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"--{boundary}--\r\n".encode()
    length = len(head) + FILES * (len(part) + FILE_MIB * MIB + 2) + len(tail)

    def body():
        yield head
        for _ in range(FILES):
            yield part
            for _ in range(FILE_MIB):
                yield buffer
            yield b"\r\n"
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length),
        "Cookie": cookie,
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    connection.request("POST", "/report", body=body(), headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp) / "instance"
        port = free_port()
        env = {
            **os.environ,
            "SIPADU_ENV": "development",
            "SIPADU_INSTANCE_PATH": str(instance),
            "SIPADU_REPORTER_BIND": f"127.0.0.1:{port}",
        }
        env.pop("SIPADU_DATABASE_URL", None)
        sipadu = [sys.executable, "-m", "sipadu.cli"]
        subprocess.run([*sipadu, "init", "--demo"], env=env, check=True, capture_output=True)
        db, wal = instance / "sipadu.db", instance / "sipadu.db-wal"

        def size(path: Path) -> int:
            try:
                return path.stat().st_size
            except FileNotFoundError:
                return 0

        start_db = size(db)
        peak = {"db": 0, "wal": 0, "total": 0}
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                d, w = size(db), size(wal)
                peak["db"], peak["wal"] = max(peak["db"], d), max(peak["wal"], w)
                peak["total"] = max(peak["total"], d + w)
                time.sleep(0.02)

        server = subprocess.Popen(
            [sys.executable, "-m", "sipadu.hosting.serve", "reporter"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sampler = threading.Thread(target=sample)
        try:
            wait_port(port)
            sampler.start()
            statuses: list[int] = []
            for _ in range(args.rounds):
                threads = [
                    threading.Thread(target=lambda: statuses.append(refused_upload(port)))
                    for _ in range(args.uploads)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            time.sleep(1)
            after = {"db": size(db), "wal": size(wal)}
        finally:
            done.set()
            server.send_signal(signal.SIGTERM)
            server.wait()
            if sampler.is_alive():
                sampler.join()
    figures = {
        "staged_per_upload_mib": (FILES - 1) * FILE_MIB,
        "uploads_at_once": args.uploads,
        "db_start_mib": start_db / MIB,
        "peak_db_mib": peak["db"] / MIB,
        "peak_wal_mib": peak["wal"] / MIB,
        "peak_db_plus_wal_mib": peak["total"] / MIB,
        "after_db_mib": after["db"] / MIB,
        "after_wal_mib": after["wal"] / MIB,
    }
    print("statuses", sorted(statuses))
    print(" ".join(f"{k}={v:.0f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
