"""SIPADU: whistleblowing system with strong anonymity (Sistem Pengaduan Terpadu)."""

__version__ = "0.1.0"
