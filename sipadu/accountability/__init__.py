"""The tamper-evident audit log and the offline recovery key. No Flask."""
