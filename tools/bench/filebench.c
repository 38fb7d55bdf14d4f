// tools/bench/filebench.c: the file benchmarks of tools/bench/files, timed inside the container so the
// runtime's start-up is not part of the figure. Built static, so every runtime runs the same binary.
//
//   filebench read FILE     reads FILE once untimed (warms the host's page cache and any cache of the
//                           runtime), then times whole-file reads with 1 MiB and with 4 KiB read(2)s
//   filebench find DIR      walks DIR like `find DIR` + stat of every entry: open(O_DIRECTORY),
//                           getdents64, fstatat(AT_SYMLINK_NOFOLLOW) per entry, recursing into
//                           directories without following symlinks; prints the entry count and time
//
// Output lines are "<case> <count> <milliseconds>", the format tools/bench/lib.sh's bench_table reads.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// Reads the whole file with reads of `chunk` bytes; returns the byte count, or -1 on an error.
static long long read_all(const char *path, char *buf, size_t chunk) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { perror(path); return -1; }
  long long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, chunk);
    if (n < 0) { if (errno == EINTR) continue; perror("read"); close(fd); return -1; }
    if (n == 0) break;
    total += n;
  }
  close(fd);
  return total;
}

static int bench_read(const char *path) {
  size_t big = 1 << 20;
  char *buf = aligned_alloc(4096, big);
  if (!buf) return 1;
  memset(buf, 0, big);  // fault the buffer in before any timing
  if (read_all(path, buf, big) < 0) return 1;
  static const struct { const char *name; size_t chunk; } cases[] = {{"read_1m", 1 << 20}, {"read_4k", 4096}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t t0 = now_ns();
    long long n = read_all(path, buf, cases[i].chunk);
    uint64_t t1 = now_ns();
    if (n < 0) return 1;
    printf("%s %lld %.3f\n", cases[i].name, n / (long long)cases[i].chunk, (t1 - t0) / 1e6);
    fflush(stdout);
  }
  return 0;
}

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static long long entries, errors;

// Lists the directory open at `dfd` (closing it), stats every entry and recurses into subdirectories.
static void walk(int dfd) {
  char buf[32768];
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
    if (n <= 0) { if (n < 0) errors++; break; }
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->d_reclen;
      const char *name = d->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      struct stat st;
      if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) { errors++; continue; }
      entries++;
      if (S_ISDIR(st.st_mode)) {
        int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) { errors++; continue; }
        walk(sub);
      }
    }
  }
  close(dfd);
}

static int bench_find(const char *dir) {
  uint64_t t0 = now_ns();
  struct stat st;
  if (stat(dir, &st) != 0) { perror(dir); return 1; }
  entries = 1;  // the root itself, like find
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) { perror(dir); return 1; }
  walk(dfd);
  uint64_t t1 = now_ns();
  printf("find_stat %lld %.3f\n", entries, (t1 - t0) / 1e6);
  // The tree's size as its own row, so the table shows that every runtime saw the same tree.
  printf("find_entries %lld %lld\n", entries, entries);
  if (errors) fprintf(stderr, "filebench: %lld errors during the walk\n", errors);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "read") == 0) return bench_read(argv[2]);
  if (argc == 3 && strcmp(argv[1], "find") == 0) return bench_find(argv[2]);
  fprintf(stderr, "usage: filebench read FILE | filebench find DIR\n");
  return 2;
}
