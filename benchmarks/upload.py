"""Evidence upload throughput and worker memory, against a bare Flask endpoint.

    .venv/bin/python benchmarks/upload.py [--mib 1024]

The reporter portal runs as ``sipadu serve`` runs it (gunicorn, 1 worker: uvicorn's
event loop and SIPADU's front in front of 4 threads; request and file limits raised by
config for the run) on a fresh SQLite instance; each upload is a real report (CSRF
and submission tokens, form fields) with its attachments encrypted while the body is
parsed and staged in the database. Baseline, same run: a bare Flask app under plain
gunicorn (1 worker x 4 gthreads, the classic WSGI server with nothing in front) whose
view reads ``request.files`` (Werkzeug's parser and its spooled temporary files) and discards them.
Two loads: one file of --mib MiB, and 100 files of 1 MiB. Then, SIPADU only, what
cleaning adds (issue 21): the same --mib MiB file starting with a JPEG signature (read
back from its staged blob and streamed through the cleaning child, which finds it
unreadable: the file is kept as sent), and a real photo of about 20 MiB (noise at
quality 100, 5.4 megapixels), cleaned: read back, re-encoded, its clean copy written as
a second blob and the original deleted. Compare ``sipadu_jpeg_head_s`` with
``sipadu_big_s``, and ``sipadu_photo_s`` with ``sipadu_photo_opaque_s`` (the same bytes
without its signature, stored as sent).

``ratio_vs_bare_flask`` is bare seconds / SIPADU seconds. Worker peak RSS is the
worker's VmHWM after the run (the image-cleaning child is a separate process; no image
is sent here anyway). ``sipadu_*_cpu_s`` is the CPU time the worker spent on the load
(steadier than wall time on a shared machine). Last line: key=value figures.
"""

import argparse
import http.client
import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask, request

MIB = 1024 * 1024
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# The one-time submission token of the reporter's report and reply forms (issue 16 item
# 3): read from the form's page and sent back with it, as a browser does.
SUBMISSION = re.compile(r'name="submission_token" value="([^"]+)"')
HERE = Path(__file__).resolve().parent

bare_app = Flask("bare")


@bare_app.post("/report")
def bare_report():
    for storage in request.files.getlist("attachments"):
        storage.close()
    return "ok"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def worker_hwm_mib(master: int) -> float:
    best = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid != master:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]))
        except OSError:
            continue
    return best / 1024


def worker_cpu_s(master: int) -> float:
    """CPU seconds (user + system) used so far by the master's worker processes."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def upload(
    port: int,
    files: list[tuple[str, int]] | list[tuple[str, int, bytes]],
    fields: dict[str, str],
    cookie: str | None,
) -> float:
    """POST a multipart body streamed from a reused random buffer (each file starting
    with its own bytes, if given); seconds until reply."""
    boundary = "----sipadu-bench"
    buffer = os.urandom(MIB)
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ).encode()
    parts = [
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        for name, *_ in files
    ]
    tail = f"--{boundary}--\r\n".encode()
    length = (
        len(head)
        + sum(len(p) + file[1] + 2 for p, file in zip(parts, files, strict=True))
        + len(tail)
    )

    def body():
        yield head
        for part, (_, size, *given) in zip(parts, files, strict=True):
            yield part
            start = given[0] if given else b""
            yield start
            left = size - len(start)
            while left:
                n = min(left, MIB)
                yield buffer[:n]
                left -= n
            yield b"\r\n"
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length),
    }
    if cookie:
        headers["Cookie"] = cookie
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    connection.request("POST", "/report", body=body(), headers=headers)
    response = connection.getresponse()
    text = response.read().decode(errors="replace")
    elapsed = time.perf_counter() - start
    if response.status != 200 or (cookie and 'id="report-code"' not in text):
        raise RuntimeError(f"upload failed: {response.status} {text[:200]}")
    return elapsed


def noisy_photo() -> bytes:
    """About 20 MiB of JPEG: 5.4 megapixels of noise at quality 100, no subsampling."""
    from PIL import Image

    width, height = 2700, 1850
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        out, "JPEG", quality=100, subsampling=0
    )
    return out.getvalue()


def report_fields(port: int) -> tuple[dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    fields = {
        "csrf_token": TOKEN.search(page).group(1),
        "submission_token": SUBMISSION.search(page).group(1),
        "category": "kkn",
        "title": "Bukti besar",
        "what": "Lihat lampiran",
        "passphrase": "",
        "passphrase_confirm": "",
    }
    return fields, cookie


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    loads = {"big": [("big.bin", args.mib * MIB)], "many": [(f"f{i}.bin", MIB) for i in range(100)]}
    figures: dict[str, float] = {"mib": args.mib}
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "gthread",
        "-w",
        "1",
        "--threads",
        "4",
        "--timeout",
        "600",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        bare = subprocess.Popen(
            [*gunicorn, "--chdir", str(HERE), "-b", f"127.0.0.1:{port}", "upload:bare_app"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port)
            for name, files in loads.items():
                figures[f"bare_{name}_s"] = upload(port, files, {}, None)
        finally:
            bare.send_signal(signal.SIGTERM)
            bare.wait()

        port = free_port()
        env = {
            **os.environ,
            "SIPADU_ENV": "development",
            "SIPADU_INSTANCE_PATH": str(Path(tmp) / "instance"),
            "SIPADU_REPORTER_BIND": f"127.0.0.1:{port}",
            "SIPADU_WORKERS": "1",
            "SIPADU_THREADS": "4",
            "SIPADU_MAX_REQUEST_MIB": str(args.mib + 200),
            "SIPADU_MAX_FILE_MIB": str(args.mib + 100),
            "SIPADU_MAX_FILES": "100",
        }
        sipadu = [sys.executable, "-m", "sipadu.cli"]
        subprocess.run([*sipadu, "init", "--demo"], env=env, check=True, capture_output=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "sipadu.hosting.serve", "reporter"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port)
            for name, files in loads.items():
                fields, cookie = report_fields(port)
                cpu = worker_cpu_s(server.pid)
                figures[f"sipadu_{name}_s"] = upload(port, files, fields, cookie)
                figures[f"sipadu_{name}_cpu_s"] = worker_cpu_s(server.pid) - cpu
                figures[f"sipadu_{name}_mib_s"] = (
                    sum(s for _, s in files) / MIB / figures[f"sipadu_{name}_s"]
                )
                figures[f"ratio_vs_bare_flask_{name}"] = (
                    figures[f"bare_{name}_s"] / figures[f"sipadu_{name}_s"]
                )
                figures[f"worker_peak_rss_mib_after_{name}"] = worker_hwm_mib(server.pid)
            photo = noisy_photo()
            cleaned = {
                "jpeg_head": [("bukti", args.mib * MIB, b"\xff\xd8\xff\xe0")],
                "photo": [("foto.jpg", len(photo), photo)],
                "photo_opaque": [("foto.bin", len(photo), b"\x00" + photo[1:])],
            }
            for name, files in cleaned.items():
                fields, cookie = report_fields(port)
                cpu = worker_cpu_s(server.pid)
                figures[f"sipadu_{name}_s"] = upload(port, files, fields, cookie)
                figures[f"sipadu_{name}_cpu_s"] = worker_cpu_s(server.pid) - cpu
            figures["photo_mib"] = len(photo) / MIB
            figures["worker_peak_rss_mib_after_cleaning"] = worker_hwm_mib(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()
    figures["ratio_vs_bare_flask"] = min(
        figures["ratio_vs_bare_flask_big"], figures["ratio_vs_bare_flask_many"]
    )
    figures["worker_peak_rss_mib"] = figures["worker_peak_rss_mib_after_many"]
    for key, value in figures.items():
        print(f"{key:34} {value:10.2f}")
    print(" ".join(f"{k}={v:.2f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
