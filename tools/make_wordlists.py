"""Regenerate sipadu/data/wordlist-id.txt and sipadu/data/common-passwords.txt.

Run by hand (the results are committed); needs the source packages from PyPI:

    .venv/bin/pip install Sastrawi==1.0.1 wordfreq==3.1.1 zxcvbn==4.5.0
    .venv/bin/python tools/make_wordlists.py          # write both lists
    .venv/bin/python tools/make_wordlists.py --check  # check the shipped list's rules

Word list: Indonesian root words (kata dasar) from Sastrawi (MIT licence,
https://github.com/har07/PySastrawi), ranked by how common they are in wordfreq's
Indonesian data (wordfreq by Robyn Speer, Apache-2.0 code, CC-BY-SA 4.0 data; used only
to choose and order, no frequencies are shipped). A word is a candidate only if a person
can copy it on paper and type it back without a mistake (docs/reporter.md, "Suggested
passphrases"):

- 4 to 8 letters, plain a-z (no diacritics, digits, capitals or hyphens);
- known to wordfreq at all (a root word nobody writes is not a common word);
- no letter or letter pair whose spelling people hesitate over: f, v, q, x, z (nafas /
  napas, aktif / aktip), kh, sy, dh, th, ph, ch, the old spellings dj, tj, oe, and no
  doubled letter (saat, maaf: one is easily dropped);
- no spelling variant or near-homophone that is itself common: swapping e/i, o/u, w/u,
  y/i, c/ts, k/q, p/f or dropping an h gives no word at least a tenth as common
  (tahu / tau, mohon / moon, pikir / fikir, kemarin / kemaren);
- not offensive, sexual, religious, ethnic, violent or about crime and corruption
  (:data:`SENSITIVE`): a passphrase is read aloud, written down, and may be found;
  nor a name, a brand or a word that is not Indonesian (:data:`NOT_WORDS`), nor a word of
  this office (:data:`INSTANCE_WORDS` of sipadu.services.passphrases);
- then, most common first, a word is taken only if it is at least two edits (Damerau:
  a swap of neighbouring letters counts as one) from every word already taken, so that
  one slip of the pen never turns a word into another word of the list.

The 2,048 most common that remain are kept: log2(2048) = 11 bits per word, 77 bits for
the seven a suggested passphrase has. ``--check`` verifies the rules that need no source
package (tests/services/test_passphrases.py does too).

Common passwords: zxcvbn's list (MIT licence, Dropbox), only those of 10 or more
characters (shorter ones fail the length rule before the list is consulted), plus a
few common Indonesian ones.
"""

import re
import sys
from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "sipadu" / "data"
WORDS = 2048
MIN_LENGTH, MAX_LENGTH = 4, 8
HARD_TO_SPELL = re.compile(r"[fvqxz]|kh|sy|dh|th|ph|ch|dj|tj|oe|(.)\1")
# Letters people write one for the other, and a silent h (tahu / tau).
SPELLING_SWAPS = {"e": "i", "i": "e", "o": "u", "u": "o", "w": "u", "y": "i", "c": "ts"}
VARIANT_SHARE = 0.1  # a variant this common, relative to the word, makes it ambiguous
# Offensive, sexual, bodily, religious, ethnic, violent, criminal or political words, and
# words about reporting itself: a passphrase may be read aloud or found on paper.
SENSITIVE = frozenset(
    """
    lapor rahasia bocor cepu binasa
    aborsi agama ajal allah amarah anjing arak babi bandar bangsat bejat bencana benci
    berahi biadab bius bodoh bokong bom bugil bui bunuh buruh busuk cabul candu cela
    curang curi dajal darah dendam dewa dosa dukun durhaka gaib ganja gay gila goblok
    granat gereja hantu haram hina hukum iblis imam injil islam jahat jenazah jihad
    judi jurus kafir kejam kelamin kiai kitab kondom kotor kristen kubur kafan kuil
    laknat lacur maki makam maksiat mati mayat mesum miras mucikari murka murtad nabi
    najis nista nikah noda pasal penjara pelacur pendeta pidana pistol polisi porno
    racun rampok rasis rayap rokok salib santet seks senjata setan siksa sihir sundal
    surga suap tembak teror tuhan wafat waria zina pukul tampar tusuk tikam perang
    maling tipu palsu bohong fitnah pecat cerai janda duda hamil susu dada paha bokep
    perek tolol dungu idiot pantat tetek kemaluan berak kencing kentut muntah tahi
    tai haid mani sperma penis payudara vagina bedil peluru darurat kudeta makar
    partai presiden menteri gubernur bupati camat lurah jaksa hakim sidang vonis
    tersangka saksi terdakwa korban suku cina pribumi batak jawa sunda bugis ambon
    papua madura dayak arab yahudi kristus yesus muhammad masjid pura wihara vihara
    doa puasa sholat salat zakat kurban qurban ibadah kiamat neraka akhirat roh arwah
    jin pocong kuntilanak genderuwo tuyul sakit mampus modar sekarat kanker
    alkitab almarhum amin berhala biksu brengsek kampret jahanam malaikat rasul taurat
    tauhid uskup ustad wahyu santri sedekah dakwah ilahi iman islami isis katolik muslimin
    natal masehi madrasah mesjid ramadan lebaran imlek hijrah pahala rohani religi religius
    sekte suci kudus wisnu gusti baginda jilbab halal bidadari orgasme seksi seksual lesbian
    gender perawan kawin rahim janin bangkai jasad eksekusi kriminal teroris tewas senapan
    rudal ranjau amunisi torpedo sandera skandal korup oknum preman togel kasino poker
    alkohol tembakau sengketa perkara mahkamah dusta siluman jimat komunis radikal militan
    demokrat liberal diabetes diare depresi trauma obesitas pingsan egois jorok jijik
    konyol monyet budak etnis kasta yatim takdir sumpah penjara sakti santet tombak
    """.split()
)

# Names of people, brands and words that are not Indonesian: spelled many ways, or not
# words an Indonesian reader writes without thinking.
NOT_WORDS = frozenset(
    """
    henry paul erik maria mason newton hasan jamal gunawan hidayat kartika ratna wijaya
    kusuma maulana raden ananda gatot gojek once open sale winter union uber dragon blues
    browser hospital order real start starter stroke striker trailer spirit stan mark plan
    auto sport arsenal santa samurai toilet ancol bogor garut bandung badung ente helium
    knot integral jember tegal siak lombok sumba jombang belanda melayu telegram gemini
    lotus problem dinas kantor cabe karier objek subjek detail skuat ambulans standar
    erotis urine obyek subyek bajaj candra eselon pandawa selir
    """.split()
)


def candidates() -> list[str]:
    """The Sastrawi root words that pass every rule but the edit distance, most common
    first (needs Sastrawi and wordfreq)."""
    import wordfreq

    from sipadu.services.passphrases import INSTANCE_WORDS

    roots = set(files("Sastrawi.Stemmer.data").joinpath("kata-dasar.txt").read_text().split())

    def frequency(word: str) -> float:
        return float(wordfreq.word_frequency(word, "id"))

    kept = []
    for word in roots:
        if not re.fullmatch(rf"[a-z]{{{MIN_LENGTH},{MAX_LENGTH}}}", word):
            continue
        if HARD_TO_SPELL.search(word) or word in SENSITIVE | NOT_WORDS or word in INSTANCE_WORDS:
            continue
        common = frequency(word)
        if common == 0:
            continue
        if any(frequency(v) >= common * VARIANT_SHARE for v in spelling_variants(word)):
            continue
        kept.append(word)
    return sorted(kept, key=lambda w: (-frequency(w), w))


def spelling_variants(word: str) -> set[str]:
    """The word with one letter written as its usual confusion, or one h dropped."""
    out = set()
    for i, ch in enumerate(word):
        if ch in SPELLING_SWAPS:
            out.add(word[:i] + SPELLING_SWAPS[ch] + word[i + 1 :])
        if ch == "h":
            out.add(word[:i] + word[i + 1 :])
    out.discard(word)
    return out


def _one_edit_keys(word: str) -> set[str]:
    """The word and each of its one-letter deletions: two words within one edit
    (insert, delete, substitute or swap neighbours) always share one of these."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def within_one_edit(a: str, b: str) -> bool:
    """True if ``a`` becomes ``b`` by at most one insertion, deletion, substitution, or
    swap of two neighbouring letters."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) != len(b):
        short, long = sorted((a, b), key=len)
        return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    )


def close_pairs(words: Iterable[str]) -> list[tuple[str, str]]:
    """Every pair of words within one edit of each other (fast: by shared deletion keys)."""
    buckets: dict[str, list[str]] = {}
    for word in words:
        for key in _one_edit_keys(word):
            buckets.setdefault(key, []).append(word)
    pairs = set()
    for group in buckets.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if within_one_edit(a, b):
                    pairs.add((min(a, b), max(a, b)))
    return sorted(pairs)


def spaced(ranked: Sequence[str], size: int) -> list[str]:
    """The first ``size`` words of ``ranked`` taken in order, each skipped if it is
    within one edit of one already taken."""
    taken: list[str] = []
    index: dict[str, list[str]] = {}
    for word in ranked:
        keys = _one_edit_keys(word)
        if any(within_one_edit(word, o) for k in keys for o in index.get(k, ())):
            continue
        taken.append(word)
        for k in keys:
            index.setdefault(k, []).append(word)
        if len(taken) == size:
            return taken
    raise SystemExit(f"only {len(taken)} words pass the rules, {size} needed")


def problems(words: Sequence[str]) -> list[str]:
    """What breaks the rules in a shipped list (no source package needed)."""
    found = []
    if len(words) != WORDS or len(set(words)) != len(words):
        found.append(f"{len(words)} words ({len(set(words))} distinct), {WORDS} expected")
    for word in words:
        if not re.fullmatch(rf"[a-z]{{{MIN_LENGTH},{MAX_LENGTH}}}", word):
            found.append(f"{word!r}: not {MIN_LENGTH}-{MAX_LENGTH} letters a-z")
        elif HARD_TO_SPELL.search(word):
            found.append(f"{word}: a letter or pair people misspell")
        elif word in SENSITIVE | NOT_WORDS:
            found.append(f"{word}: excluded by hand")
    found += [f"{a} / {b}: one edit apart" for a, b in close_pairs(words)]
    return found


def wordlist() -> list[str]:
    return sorted(spaced(candidates(), WORDS))


def common_passwords() -> list[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    long_enough = [p for p in FREQUENCY_LISTS["passwords"] if len(p) >= 10]
    return sorted(set(long_enough) | set(INDONESIAN_COMMON))


INDONESIAN_COMMON = [
    "sayangkamu", "sayangkamu123", "bismillah123", "indonesia123", "indonesiaraya",
    "katasandi123", "passwordku", "rahasiaku123", "rahasia123", "cintaku123",
    "merdeka1945", "jakarta123", "1234567890", "qwertyuiop", "password123",
]  # fmt: skip


def main(argv: Sequence[str]) -> int:
    if "--check" in argv:
        shipped = (DATA / "wordlist-id.txt").read_text().split()
        found = problems(shipped)
        print("\n".join(found) or f"OK {len(shipped)} words")
        return 1 if found else 0
    (DATA / "wordlist-id.txt").write_text("\n".join(wordlist()) + "\n")
    (DATA / "common-passwords.txt").write_text("\n".join(common_passwords()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
