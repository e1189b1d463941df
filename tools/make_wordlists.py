"""Regenerate sipadu/data/wordlist-id.txt and sipadu/data/common-passwords.txt.

Run by hand (the results are committed); needs the source packages from PyPI:

    .venv/bin/pip install Sastrawi==1.0.1 wordfreq==3.1.1 zxcvbn==4.5.0
    .venv/bin/python tools/make_wordlists.py

Word list: Indonesian root words (kata dasar) from Sastrawi (MIT licence,
https://github.com/har07/PySastrawi), only plain a-z words of 4 to 8 letters, ranked by
how common they are in wordfreq's Indonesian data (wordfreq by Robyn Speer, Apache-2.0
code, CC-BY-SA 4.0 data; used only to choose and order, no frequencies are shipped), the
7,776 most common kept: log2(7776) = 12.9 bits per word, 77.5 bits for six.

Common passwords: zxcvbn's list (MIT licence, Dropbox), only those of 10 or more
characters (shorter ones fail the length rule before the list is consulted), plus a
few common Indonesian ones.
"""

import re
from importlib.resources import files
from pathlib import Path

import wordfreq
from zxcvbn.frequency_lists import FREQUENCY_LISTS

DATA = Path(__file__).resolve().parents[1] / "sipadu" / "data"
WORDS = 7776
INDONESIAN_COMMON = [
    "sayangkamu", "sayangkamu123", "bismillah123", "indonesia123", "indonesiaraya",
    "katasandi123", "passwordku", "rahasiaku123", "rahasia123", "cintaku123",
    "merdeka1945", "jakarta123", "1234567890", "qwertyuiop", "password123",
]


def wordlist() -> list[str]:
    roots = files("Sastrawi.Stemmer.data").joinpath("kata-dasar.txt").read_text().split()
    plain = {w for w in roots if re.fullmatch(r"[a-z]{4,8}", w)}
    ranked = sorted(plain, key=lambda w: (-wordfreq.word_frequency(w, "id"), w))
    chosen = ranked[:WORDS]
    assert len(chosen) == WORDS, len(chosen)
    return sorted(chosen)


def common_passwords() -> list[str]:
    long_enough = [p for p in FREQUENCY_LISTS["passwords"] if len(p) >= 10]
    return sorted(set(long_enough) | set(INDONESIAN_COMMON))


def main() -> None:
    (DATA / "wordlist-id.txt").write_text("\n".join(wordlist()) + "\n")
    (DATA / "common-passwords.txt").write_text("\n".join(common_passwords()) + "\n")


if __name__ == "__main__":
    main()
