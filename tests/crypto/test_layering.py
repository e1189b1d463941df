"""The crypto layer is pure: it imports nothing of SIPADU outside itself and nothing
but the standard library, pyca/cryptography and argon2-cffi."""

import ast
import sys
from pathlib import Path

import sipadu.crypto

ALLOWED_THIRD_PARTY = {"cryptography", "argon2"}
CRYPTO_DIR = Path(sipadu.crypto.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_crypto_imports_only_itself_stdlib_cryptography_and_argon2():
    offenders = []
    for path in sorted(CRYPTO_DIR.glob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if name.startswith("sipadu.crypto") or top in ALLOWED_THIRD_PARTY:
                continue
            if top not in sys.stdlib_module_names:
                offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_every_public_name_is_exported():
    for name in sipadu.crypto.__all__:
        assert hasattr(sipadu.crypto, name), name
