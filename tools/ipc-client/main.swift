// Written by the IPC part of the foundation issue.
@preconcurrency import Glibc
fputs("not implemented yet\n", stderr)
exit(2)
