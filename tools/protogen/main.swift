// bulwark-protogen: generates Swift codecs from protocol/*.schema. Written by the protocol issue.
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
fputs("bulwark-protogen: not implemented yet\n", stderr)
exit(2)
