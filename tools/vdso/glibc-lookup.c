/* glibc-lookup VDSO.so: loads the vDSO image from a file with the system's dynamic loader and looks each
 * entry point up the way glibc looks up the kernel's (by name and version LINUX_2.6), printing
 * "<name> <offset from load address>" per symbol. Used by SentryVDSOTests to show glibc accepts the image;
 * nothing is called (the vvar page is not mapped next to a dlopen'ed copy). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: glibc-lookup VDSO.so\n"); return 2; }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    struct link_map *map;
    if (dlinfo(h, RTLD_DI_LINKMAP, &map) != 0) { fprintf(stderr, "dlinfo: %s\n", dlerror()); return 1; }
    static const char *names[] = {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                                  "__vdso_clock_getres", "__vdso_getcpu", "clock_gettime", "gettimeofday",
                                  "time", "clock_getres", "getcpu"};
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *p = dlvsym(h, names[i], "LINUX_2.6");
        printf("%s %ld\n", names[i], p ? (long)((char *)p - (char *)map->l_addr) : -1L);
        /* A version the image does not define must not match. */
        if (dlvsym(h, names[i], "LINUX_2.5")) printf("%s found-with-wrong-version\n", names[i]);
    }
    return 0;
}
