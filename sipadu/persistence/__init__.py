"""Where state lives: the database (engine, tables, migrations, roles) and the
host's volatile stores (mailbox sessions, counters, bounded pools). No Flask."""
