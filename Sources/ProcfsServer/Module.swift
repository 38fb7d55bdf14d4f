// Module ProcfsServer: see docs/ARCHITECTURE.md for its responsibility. Grown by the issue that owns it.
