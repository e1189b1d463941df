"""Review of MPEG program stream cleaning (.mpg/.mpeg, DVD .vob, camcorders' .mod):
faults found by attacking it with files ffmpeg makes as camcorders, DVD recorders
and CCTV exports do. Each test fails while the fault is there."""

import subprocess
from pathlib import Path

import pytest

from sipadu.evidence.outcome import Kind, Removed
from tests.test_document_cleaning import (
    CAMERA_SEI,
    DEVICE,
    MPEG_PICTURE,
    SINE,
    camcorder_mts,
    clean,
)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


def frames(path: Path) -> str:
    """How many video frames ffprobe decodes in ``path``."""
    return (
        subprocess.run(
            [
                *("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v"),
                *("-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .strip(",")
    )


@pytest.mark.parametrize(
    "name, muxer, kind", [("v.vob", "vob", Kind.MPEGPS), ("v.ts", "mpegts", Kind.MPEGTS)]
)
def test_mpeg2_video_user_data_does_not_survive_cleaning(name, muxer, kind, tmp_path):
    """MPEG-2 video carries user data (start code 0x000001B2: A/53 captions, a
    recorder's or camcorder's own text) that ffmpeg's stream copy keeps, as it kept
    H.264 SEI before ``sei_filters``; only H.264/H.265 SEI is dropped, so the text
    below stays in the "cleaned" VOB while the reporter is told it was cleaned (with
    nothing removed)."""
    stream = tmp_path / "v.m2v"
    ffmpeg(*MPEG_PICTURE, "-t", "1", "-c:v", "mpeg2video", str(stream))
    video = stream.read_bytes()
    user_data = b"\x00\x00\x01\xb2" + f"CAMERA {DEVICE} GPS 106.8451".encode()
    planted, position = bytearray(), 0
    while (found := video.find(b"\x00\x00\x01\xb8", position)) >= 0:  # after each GOP header
        planted += video[position : found + 8] + user_data
        position = found + 8
    stream.write_bytes(bytes(planted + video[position:]))
    path = tmp_path / name
    ffmpeg(
        *("-fflags", "+genpts", "-r", "25", "-i", str(stream), *SINE),
        *("-c:v", "copy", "-c:a", "mp2", "-f", muxer, str(path)),
    )
    original = path.read_bytes()
    assert DEVICE.encode() in original, "user data not planted"

    data, cleaned = clean(original, kind)

    assert cleaned.kind is kind
    assert DEVICE.encode() not in data, "MPEG-2 user data left in a program stream said clean"


@pytest.mark.parametrize(
    "name, codecs",
    [
        # A CCTV recorder's or screen recorder's export: H.264 video without sound.
        ("h264-silent.vob", ["-c:v", "libx264", "-bsf:v", CAMERA_SEI]),
        # H.264 video with AC-3 sound (a DVD recorder's or HD camcorder's PS).
        ("h264-ac3.vob", [*SINE, "-c:v", "libx264", "-bsf:v", CAMERA_SEI, "-c:a", "ac3"]),
        # H.265 video without sound.
        ("hevc.vob", ["-c:v", "libx265", "-x265-params", "log-level=error"]),
    ],
)
def test_a_program_stream_without_mpeg_audio_or_video_headers_is_cleaned(name, codecs, tmp_path):
    """exiftool (``-H264:all``, read before and after) finds neither an MPEG video
    sequence header nor an MPEG audio frame in these program streams and exits 1 with
    "File format error": the child takes that as ffmpeg refusing the file, so it is
    kept as sent, "not cleanable", with its camera SEI, and no field is told as left.
    ffmpeg itself cleans each of them."""
    path = tmp_path / name
    ffmpeg(*MPEG_PICTURE, *codecs, "-t", "1", "-f", "vob", str(path))
    original = path.read_bytes()

    data, cleaned = clean(original, Kind.MPEGPS)

    assert cleaned.kind is Kind.MPEGPS
    assert DEVICE.encode() not in data and b"x265" not in data


def test_a_camcorders_place_in_a_program_stream_is_told_removed(tmp_path):
    """The camcorder's MDPM SEI (time, GPS position, make) in a program stream's
    H.264 video is dropped, but exiftool reads no H.264 in a program stream, so the
    reporter is told "cleaned" with nothing removed: the notice does not say that a
    place, a camera and the time were in the file (as it does for the same video in a
    transport stream)."""
    camcorder_mts(tmp_path)
    path = tmp_path / "v.vob"
    ffmpeg(
        *("-i", str(tmp_path / "v.mts"), *SINE, "-map", "0:v", "-map", "1:a"),
        *("-c:v", "copy", "-c:a", "mp2", "-t", "1", "-f", "vob", str(path)),
    )
    original = path.read_bytes()
    assert b"MDPM" in original

    data, cleaned = clean(original, Kind.MPEGPS)

    assert b"MDPM" not in data
    assert {Removed.GPS, Removed.CAMERA, Removed.DATES} <= cleaned.removed


def test_program_streams_joined_are_cleaned_not_said_damaged(tmp_path):
    """Two program streams one after the other (DVD VOBs joined, a recorder's cells
    whose clock starts again): ffprobe gives the original the duration of one part
    only, the clean copy (all 150 frames, the same pictures and sound) the whole, so
    ``check_recording`` refuses it as "cleaning would damage it", which is untrue,
    and the file is kept as sent with whatever it holds."""
    parts = []
    for index, source in enumerate(("testsrc", "smptebars")):
        part = tmp_path / f"{index}.vob"
        ffmpeg(
            *("-f", "lavfi", "-i", f"{source}=duration=3:size=320x240:rate=25", *SINE),
            *("-c:v", "mpeg2video", "-c:a", "mp2", "-t", "3", "-f", "vob", str(part)),
        )
        parts.append(part.read_bytes())
    original = b"".join(parts)
    (tmp_path / "joined.vob").write_bytes(original)
    assert frames(tmp_path / "joined.vob") == "150"

    data, cleaned = clean(original, Kind.MPEGPS)

    (tmp_path / "clean.vob").write_bytes(data)
    assert cleaned.kind is Kind.MPEGPS
    assert frames(tmp_path / "clean.vob") == "150"
