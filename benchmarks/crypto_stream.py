"""Stream encryption throughput and memory, against bare AES-GCM, age and gpg.

    .venv/bin/python benchmarks/crypto_stream.py [--size-mib 1024] [--no-external]

1. In memory: encrypt SIZE through the stream API from a 1 MiB buffer written
   repeatedly into a sink that discards; decrypt a SIZE ciphertext held in memory into
   a sink that discards. Baseline, same run: a bare loop of ``AESGCM.encrypt`` (and
   ``.decrypt``) over 1 MiB chunks of the same buffer.
2. Peak RSS of the stream path, each direction in its own fresh process
   (``VmHWM``), beside that of a process that only imports the same modules.
3. File to file on disk, whole processes timed (interpreter start included), against
   ``age`` (X25519 recipient) and ``gpg`` (symmetric AES-256, no compression) when
   installed.

The last line holds every figure as key=value pairs.
"""

import argparse
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sipadu.crypto import decrypt_stream, encrypting_writer, new_key
from sipadu.crypto.stream import DEFAULT_CHUNK_SIZE, HEADER_LEN, _nonce
from sipadu.crypto.symmetric import TAG_LEN

MIB = 1 << 20


class Discard:
    def write(self, data: bytes) -> None:
        pass


def gib_s(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / (1 << 30)


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def in_memory(size: int, chunk: int) -> dict[str, float]:
    buf = os.urandom(MIB)
    n = size // MIB
    aes = AESGCM(new_key())
    nonce = bytes(12)

    def bare_encrypt() -> None:
        for _ in range(n):
            aes.encrypt(nonce, buf, None)

    sealed = aes.encrypt(nonce, buf, None)

    def bare_decrypt() -> None:
        for _ in range(n):
            aes.decrypt(nonce, sealed, None)

    def stream_encrypt() -> None:
        writer = encrypting_writer(Discard(), chunk)
        for _ in range(n):
            writer.write(buf)
        writer.close()

    ciphertext = io.BytesIO()
    with encrypting_writer(ciphertext, chunk) as writer:
        for _ in range(n):
            writer.write(buf)
    key = writer.key

    # Decryption reads SIZE of ciphertext from memory, not one cache-hot buffer: a fair
    # baseline is bare AES-GCM over the very same ciphertext chunks.
    body = ciphertext.getbuffer()[HEADER_LEN:]
    sealed_size = chunk + TAG_LEN
    n_chunks = len(body) // sealed_size - 1  # all but the last, which is flagged

    def bare_decrypt_same_data() -> None:
        stream_aes = AESGCM(key)
        header = ciphertext.getbuffer()[:HEADER_LEN]
        for i in range(n_chunks):
            stream_aes.decrypt(
                _nonce(i, False), body[i * sealed_size : (i + 1) * sealed_size], header
            )

    def stream_decrypt() -> None:
        ciphertext.seek(0)
        for _ in decrypt_stream(ciphertext, key):
            pass

    t_bare_enc = best_of(3, bare_encrypt)
    t_enc = best_of(3, stream_encrypt)
    t_bare_dec = best_of(3, bare_decrypt)
    t_dec = best_of(3, stream_decrypt)
    t_bare_same = best_of(3, bare_decrypt_same_data) * (len(body) / (n_chunks * sealed_size))
    return {
        "aesgcm_enc_gib_s": gib_s(size, t_bare_enc),
        "aesgcm_dec_gib_s": gib_s(size, t_bare_dec),
        "stream_enc_gib_s": gib_s(size, t_enc),
        "stream_dec_gib_s": gib_s(size, t_dec),
        "ratio_vs_aesgcm": t_bare_enc / t_enc,
        "dec_ratio_vs_aesgcm": t_bare_enc / t_dec,
        "dec_ratio_vs_aesgcm_decrypt": t_bare_dec / t_dec,
        "aesgcm_dec_same_data_gib_s": gib_s(size, t_bare_same),
        "dec_ratio_vs_aesgcm_same_data": t_bare_same / t_dec,
    }


# --- child processes -------------------------------------------------------------


def peak_rss_kib() -> int:
    """High-water RSS of this process. Not ``ru_maxrss``: Linux carries that across
    ``execve``, so a child would report its (larger) parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "idle":
        pass
    elif mode == "encrypt":  # SIZE from memory to disk; key on stdout
        size, out = int(argv[1]), argv[2]
        buf = os.urandom(MIB)
        with open(out, "wb") as sink, encrypting_writer(sink) as writer:
            for _ in range(size // MIB):
                writer.write(buf)
        sys.stdout.write(writer.key.hex() + "\n")
    elif mode == "decrypt":  # file to discard
        key, path = bytes.fromhex(argv[1]), argv[2]
        with open(path, "rb", buffering=0) as source:
            for _ in decrypt_stream(source, key):
                pass
    elif mode == "file-encrypt":  # file to file
        key_file, src, dst = argv[1:4]
        buffer = memoryview(bytearray(MIB))  # reused: no allocation per read
        with open(src, "rb", buffering=0) as source, open(dst, "wb") as sink:
            with encrypting_writer(sink) as writer:
                while n := source.readinto(buffer):
                    writer.write(buffer[:n])
        Path(key_file).write_text(writer.key.hex())
    elif mode == "file-decrypt":
        key_file, src, dst = argv[1:4]
        key = bytes.fromhex(Path(key_file).read_text())
        with open(src, "rb") as source, open(dst, "wb") as sink:
            for piece in decrypt_stream(source, key):
                sink.write(piece)
    sys.stderr.write(f"maxrss_kib={peak_rss_kib()}\n")


def run_child(*args: str) -> tuple[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    )
    rss = next(line for line in result.stderr.splitlines() if line.startswith("maxrss_kib="))
    return result.stdout.strip(), int(rss.split("=")[1]) / 1024


def peak_rss(size: int, workdir: Path) -> dict[str, float]:
    path = workdir / "rss.enc"
    _, idle = run_child("idle")
    key, enc = run_child("encrypt", str(size), str(path))
    _, dec = run_child("decrypt", key, str(path))
    path.unlink()
    return {"idle_rss_mib": idle, "peak_rss_enc_mib": enc, "peak_rss_dec_mib": dec}


def timed(cmd: list[str]) -> float:
    """Best of three runs of a whole command (disk writes make single runs noisy)."""
    return best_of(3, lambda: subprocess.run(cmd, check=True, capture_output=True))


def file_to_file(size: int, workdir: Path) -> dict[str, float]:
    plain = workdir / "plain"
    with plain.open("wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))
    with plain.open("rb") as f:  # warm the page cache so no tool pays the cold read
        while f.read(16 * MIB):
            pass
    ours = [sys.executable, __file__, "--child"]
    key_file = workdir / "key"
    figures = {
        "file_enc_s": timed([*ours, "file-encrypt", str(key_file), str(plain), str(workdir / "s")]),
        "file_dec_s": timed(
            [*ours, "file-decrypt", str(key_file), str(workdir / "s"), "/dev/null"]
        ),
    }
    (workdir / "s").unlink()
    if shutil.which("age") and shutil.which("age-keygen"):
        identity = workdir / "age.key"
        subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
        recipient = subprocess.run(
            ["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True
        ).stdout.strip()
        out = workdir / "a.age"
        figures["age_enc_s"] = timed(["age", "-r", recipient, "-o", str(out), str(plain)])
        figures["age_dec_s"] = timed(
            ["age", "-d", "-i", str(identity), "-o", "/dev/null", str(out)]
        )
        figures["ratio_vs_age_enc"] = figures["age_enc_s"] / figures["file_enc_s"]
        figures["ratio_vs_age_dec"] = figures["age_dec_s"] / figures["file_dec_s"]
        out.unlink()
    if shutil.which("gpg"):
        home = workdir / "gnupg"
        home.mkdir(mode=0o700)
        gpg = [
            "gpg",
            "--homedir",
            str(home),
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "benchmark",
        ]
        out = workdir / "g.gpg"
        figures["gpg_enc_s"] = timed(
            [
                *gpg,
                "--symmetric",
                "--cipher-algo",
                "AES256",
                "--compress-algo",
                "none",
                "-o",
                str(out),
                str(plain),
            ]
        )
        figures["gpg_dec_s"] = timed([*gpg, "--decrypt", "-o", "/dev/null", str(out)])
        out.unlink()
    plain.unlink()
    return figures


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument(
        "--chunk-kib",
        type=int,
        default=DEFAULT_CHUNK_SIZE // 1024,
        help="chunk size for the in-memory part (the rest uses the default)",
    )
    parser.add_argument("--no-external", action="store_true", help="skip the file-to-file part")
    args = parser.parse_args()
    size = args.size_mib * MIB

    figures: dict[str, float] = {"size_mib": args.size_mib, "chunk_kib": args.chunk_kib}
    figures |= in_memory(size, args.chunk_kib * 1024)
    with tempfile.TemporaryDirectory(dir=os.environ.get("SIPADU_BENCH_DIR")) as tmp:
        figures |= peak_rss(size, Path(tmp))
        if not args.no_external:
            figures |= file_to_file(size, Path(tmp))

    for key, value in figures.items():
        print(f"{key:28} {value:10.2f}")
    print(
        " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    )


if __name__ == "__main__":
    main()
