// bulwark-netstack: thin executable; the logic lives in its library under Sources/.
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
fputs("bulwark-netstack: not implemented yet\n", stderr)
exit(2)
