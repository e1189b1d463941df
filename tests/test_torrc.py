"""The torrc in docs/deploy.md is a real Tor configuration: Debian's tor accepts it as
written (``tor --verify-config``), with the proof-of-work defence and a cap on
connections per circuit."""

import re
import subprocess
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"


def documented_torrc() -> str:
    """The indented block of docs/deploy.md that starts with ``# /etc/tor/torrc``."""
    lines = DEPLOY.read_text().splitlines()
    start = lines.index("    # /etc/tor/torrc")
    block = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        block.append(line.removeprefix("    "))
    return "\n".join(block) + "\n"


def options(torrc: str) -> dict[str, str]:
    found = {}
    for line in torrc.splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition(" ")
            found[name] = value.strip()
    return found


def test_the_documented_torrc_is_valid_for_tor(tmp_path):
    torrc = documented_torrc()
    documented = options(torrc)
    assert documented["HiddenServicePort"] == "80 127.0.0.1:5000"  # the reporter portal
    assert documented["HiddenServicePoWDefensesEnabled"] == "1"
    assert int(documented["HiddenServiceMaxStreams"]) > 0
    assert documented["HiddenServiceMaxStreamsCloseCircuit"] == "1"

    # The same file, with the onion service's keys in a private folder of the test's own.
    service = tmp_path / "onion"
    service.mkdir(mode=0o700)
    test_torrc = tmp_path / "torrc"
    test_torrc.write_text(
        re.sub(r"^HiddenServiceDir .*$", f"HiddenServiceDir {service}/", torrc, flags=re.M)
    )
    defaults = tmp_path / "torrc-defaults"
    defaults.write_text("")
    result = subprocess.run(
        ["tor", "--verify-config", "--defaults-torrc", str(defaults), "-f", str(test_torrc)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration was valid" in result.stdout
