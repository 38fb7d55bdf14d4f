// bulwark-sentry: thin executable; the logic lives in its library under Sources/.
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
fputs("bulwark-sentry: not implemented yet\n", stderr)
exit(2)
