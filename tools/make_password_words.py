"""Regenerate sipadu/data/passwords-id/: the Indonesian ranked word lists zxcvbn tries.

Run by hand (the results are committed). The source is the npm package
``@zxcvbn-ts/language-id`` (MIT licence; its common-word list is derived from
OpenSubtitles 2024 via OPUS, ODC-BY: see sipadu/data/passwords-id/NOTICE.md):

    cd /tmp && npm pack @zxcvbn-ts/language-id@4.1.1 && tar xzf zxcvbn-ts-language-id-4.1.1.tgz
    .venv/bin/python tools/make_password_words.py /tmp/package

Each output file is one entry a line, most common first: its line number is the rank
zxcvbn charges a guesser for it (sipadu/services/passphrases.py). ``office.txt`` is
written here from the lists below: the words a guesser tries first against an
Indonesian government office, whatever the instance (greetings, patriotic phrases,
government and inspectorate words, provinces, cities and regencies). A phrase of several
words is kept as typed and without its spaces.
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "sipadu" / "data" / "passwords-id"
VERSION = "4.1.1"

GREETINGS = """
selamat pagi, selamat siang, selamat sore, selamat malam, selamat datang, selamat jalan,
selamat tinggal, selamat ulang tahun, terima kasih, makasih, sama sama, apa kabar, halo,
hai, assalamualaikum, salam, salam sejahtera, bismillah, alhamdulillah, insya allah,
masya allah, subhanallah, allahu akbar, aku sayang kamu, aku cinta kamu, sayang, cinta,
sayangku, cintaku, kata sandi saya, sandi saya, rahasia saya, password saya, kunci saya,
akun saya, punya saya, milik saya, jangan lupa, lupa, mantap, semangat, sukses,
"""
PATRIOTIC = """
indonesia, indonesia raya, merdeka, merdeka atau mati, garuda, garuda pancasila,
pancasila, bhinneka tunggal ika, bhineka tunggal ika, nusantara, tanah air, nkri,
nkri harga mati, harga mati, proklamasi, kemerdekaan, sumpah pemuda, pahlawan, bendera,
merah putih, sang saka, sang merah putih, dirgahayu, dirgahayu indonesia, hut ri,
tujuh belas agustus, agustus, republik indonesia, negara kesatuan, soekarno, sukarno,
hatta, bung karno, bung hatta, soeharto, habibie, gus dur, megawati, jokowi, prabowo,
kartini, diponegoro, sudirman, indonesia maju, indonesia emas, jaya, indonesia jaya,
"""
OFFICE = """
inspektorat, inspektur, inspektur pembantu, irban, pemeriksa, pemeriksaan, auditor,
audit, petugas, pegawai, pegawai negeri, asn, pns, pppk, honorer, aparatur, aparat,
dinas, kantor, kepala, kepala dinas, kadis, kepala bidang, kabid, kepala seksi, kasi,
sekda, sekretariat, sekretaris, sekretaris daerah, bupati, wakil bupati, walikota,
wali kota, wakil walikota, gubernur, wakil gubernur, camat, kecamatan, kelurahan, lurah,
desa, kepala desa, kades, pemerintah, pemerintahan, pemerintah daerah, pemda, pemkot,
pemkab, pemprov, provinsi, kabupaten, kota, daerah, negara, republik, kementerian,
menteri, lembaga, instansi, badan, bagian, bidang, seksi, staf, staff, admin,
administrator, operator, pengawas, pengawasan, penyidik, penyelidik, investigasi,
investigator, kustodian, custodian, laporan, lapor, pelapor, terlapor, pengaduan,
aduan, whistleblower, whistleblowing, wbs, rahasia, kerahasiaan, sandi, kata sandi,
password, kunci, akun, masuk, login, korupsi, kolusi, nepotisme, kkn, gratifikasi, suap,
pungli, pungutan liar, penyalahgunaan, wewenang, penyalahgunaan wewenang, pelanggaran,
administrasi, pelanggaran administrasi, disiplin, pelanggaran disiplin, etik, kode etik,
integritas, akuntabilitas, transparansi, bpk, bpkp, kpk, ombudsman, apip, spip,
kejaksaan, kepolisian, polri, tni, anggaran, keuangan, apbd, apbn, pengadaan,
barang jasa, proyek, kontrak, tender, dokumen, arsip, surat, nota dinas, balai kota,
balaikota, gedung sate, kantor gubernur, kantor bupati, kantor walikota,
"""
PROVINCES = """
aceh, sumatera utara, sumut, sumatera barat, sumbar, riau, kepulauan riau, kepri, jambi,
sumatera selatan, sumsel, bangka belitung, babel, bengkulu, lampung, jakarta,
dki jakarta, dki, jawa barat, jabar, banten, jawa tengah, jateng, yogyakarta, jogja,
jogjakarta, yogya, diy, daerah istimewa yogyakarta, jawa timur, jatim, bali,
nusa tenggara barat, ntb, nusa tenggara timur, ntt, kalimantan barat, kalbar,
kalimantan tengah, kalteng, kalimantan selatan, kalsel, kalimantan timur, kaltim,
kalimantan utara, kaltara, sulawesi utara, sulut, gorontalo, sulawesi tengah, sulteng,
sulawesi barat, sulbar, sulawesi selatan, sulsel, sulawesi tenggara, sultra, maluku,
maluku utara, malut, papua, papua barat, papua barat daya, papua selatan, papua tengah,
papua pegunungan, sumatera, sumatra, jawa, kalimantan, sulawesi, borneo, madura, lombok,
"""
CITIES = """
jakarta pusat, jakarta utara, jakarta barat, jakarta selatan, jakarta timur,
kepulauan seribu, surabaya, bandung, medan, semarang, makassar, palembang, tangerang,
tangerang selatan, depok, bekasi, bogor, batam, pekanbaru, padang, malang, denpasar,
bandar lampung, samarinda, balikpapan, banjarmasin, pontianak, manado, jayapura, ambon,
kupang, mataram, jambi, bengkulu, serang, cilegon, cirebon, sukabumi, tasikmalaya,
cimahi, banjar, surakarta, solo, salatiga, magelang, pekalongan, tegal, kediri, blitar,
madiun, mojokerto, pasuruan, probolinggo, batu, banda aceh, sabang, langsa,
lhokseumawe, subulussalam, binjai, pematangsiantar, siantar, tebing tinggi,
tanjungbalai, sibolga, padangsidimpuan, gunungsitoli, bukittinggi, payakumbuh,
padang panjang, pariaman, sawahlunto, solok, dumai, tanjungpinang, sungai penuh,
prabumulih, lubuklinggau, pagar alam, pangkalpinang, metro, palangka raya,
palangkaraya, banjarbaru, bontang, tarakan, bitung, tomohon, kotamobagu, palu,
parepare, palopo, kendari, baubau, tual, ternate, tidore, sorong, bima, singkawang,
sleman, bantul, gunungkidul, kulon progo, sidoarjo, gresik, garut, karawang, purwakarta,
subang, indramayu, majalengka, kuningan, sumedang, ciamis, cianjur, bandung barat,
banyumas, purwokerto, cilacap, kebumen, klaten, boyolali, sragen, wonogiri,
karanganyar, sukoharjo, kudus, jepara, pati, demak, kendal, jember, banyuwangi,
lumajang, tulungagung, ponorogo, ngawi, bojonegoro, tuban, lamongan, sumenep,
pamekasan, bangkalan, sampang, badung, gianyar, tabanan, buleleng, deli serdang,
langkat, karo, simalungun, kutai kartanegara, kubu raya, gowa, maros, bone, minahasa,
merauke, mimika, timika, biak, nabire, lebak, pandeglang, bekasi, bogor,
"""
PLACE_PREFIXES = ("kota", "kabupaten", "kab", "pemkot", "pemkab", "provinsi", "pemprov")


def phrases(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.replace("\n", " ").split(",") if p.strip()]


def office_words() -> list[str]:
    """Greetings and patriotic phrases first, then the office's words, then places;
    each place also with the words a form of address puts before it."""
    ordered = [*phrases(GREETINGS), *phrases(PATRIOTIC), *phrases(OFFICE)]
    places = [*phrases(PROVINCES), *phrases(CITIES)]
    ordered += places
    ordered += [f"{prefix} {place}" for place in places for prefix in PLACE_PREFIXES]
    out: list[str] = []
    for entry in ordered:
        for form in (entry, entry.replace(" ", "")):
            if form not in out:
                out.append(form)
    return out


def sequences(lists: dict[str, list[str]]) -> list[str]:
    words = [w for seq in lists.values() for w in seq]
    runs = [
        " ".join(seq[i : i + n])
        for n in range(2, 6)
        for seq in lists.values()
        for i in range(len(seq) - n + 1)
    ]
    return words + [form for run in runs for form in (run, run.replace(" ", ""))]


def main(package: Path) -> None:
    meta = json.loads((package / "package.json").read_text())
    assert meta["name"] == "@zxcvbn-ts/language-id" and meta["version"] == VERSION, meta
    src = package / "src"
    sources = {
        "common-words": json.loads((src / "commonWords.json").read_text()),
        "wikipedia": json.loads((src / "wikipedia.json").read_text()),
        "names": json.loads((src / "names.json").read_text()),
        # days, months, numbers in words, ...: each word, then each run of 2 to 5
        # consecutive ones ("satu dua tiga"), which zxcvbn-python has no matcher for
        "sequences": sequences(json.loads((src / "wordSequences.json").read_text())),
        "office": office_words(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, words in sources.items():
        seen: dict[str, None] = {}
        for word in words:
            seen.setdefault(" ".join(str(word).lower().split()), None)
        (OUT / f"{name}.txt").write_text("\n".join(w for w in seen if w) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
