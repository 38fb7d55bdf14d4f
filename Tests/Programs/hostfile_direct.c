// Reads and writes of a host file (a descriptor the Gofer donated) straight into and out of the
// application's pages: buffers spanning two mappings, short reads at EOF, O_APPEND with write and
// pwrite, offsets after read/write, EFAULT on an unmapped buffer. Prints one line per check; the test
// compares the output with the same program run natively. Usage: hostfile_direct DIR
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned sum(const unsigned char *p, size_t n) {
  unsigned s = 0;
  for (size_t i = 0; i < n; i++) s = s * 31 + p[i];
  return s;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char path[4096];
  if (mkdir(argv[1], 0755) != 0) { perror("mkdir"); return 1; }
  snprintf(path, sizeof path, "%s/f", argv[1]);
  long pg = sysconf(_SC_PAGESIZE);
  // Two adjacent mappings with different protections, so the range is two VMAs.
  unsigned char *a = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) return 1;
  if (mmap(a + 2 * pg, 2 * pg, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) return 1;
  for (long i = 0; i < 4 * pg; i++) a[i] = (unsigned char)(i * 7 + 3);

  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) { perror("open"); return 1; }
  ssize_t w = write(fd, a + pg / 2, 3 * pg);  // spans both mappings
  printf("write across mappings: %zd, offset %ld\n", w, (long)lseek(fd, 0, SEEK_CUR));
  unsigned char *b = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mmap(b + 2 * pg, 2 * pg, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) return 1;
  ssize_t r = pread(fd, b + pg / 2, 3 * pg, 0);
  printf("pread across mappings: %zd, same bytes %d, offset %ld\n", r, memcmp(a + pg / 2, b + pg / 2, 3 * pg) == 0,
         (long)lseek(fd, 0, SEEK_CUR));
  lseek(fd, 0, SEEK_SET);
  r = read(fd, b, 100);
  printf("read 100: %zd, sum %u, offset %ld\n", r, sum(b, 100), (long)lseek(fd, 0, SEEK_CUR));
  r = pread(fd, b, 4 * pg, 3 * pg - 100);
  printf("pread at eof-100: %zd, sum %u\n", r, sum(b, r > 0 ? r : 0));
  r = pread(fd, b, 4096, 3 * pg + 10);
  printf("pread past eof: %zd\n", r);
  lseek(fd, 3 * pg - 10, SEEK_SET);
  r = read(fd, b, 4 * pg);
  printf("read to eof: %zd, offset %ld\n", r, (long)lseek(fd, 0, SEEK_CUR));
  r = read(fd, b, 10);
  printf("read at eof: %zd\n", r);
  // A buffer whose first page is not mapped: EFAULT, nothing read, the offset unchanged.
  unsigned char *hole = mmap(NULL, 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  lseek(fd, 0, SEEK_SET);
  errno = 0;
  r = read(fd, hole, 100);
  printf("read into PROT_NONE: %zd %s, offset %ld\n", r, strerror(errno), (long)lseek(fd, 0, SEEK_CUR));
  errno = 0;
  r = write(fd, hole, 100);
  printf("write from PROT_NONE: %zd %s, offset %ld\n", r, strerror(errno), (long)lseek(fd, 0, SEEK_CUR));
  close(fd);

  // O_APPEND: write appends and moves the offset to the end; pwrite appends whatever its offset says.
  fd = open(path, O_WRONLY | O_APPEND);
  w = write(fd, "tail", 4);
  printf("append write: %zd, offset %ld\n", w, (long)lseek(fd, 0, SEEK_CUR));
  w = pwrite(fd, "more", 4, 0);
  struct stat st;
  fstat(fd, &st);
  printf("append pwrite: %zd, size %ld, offset %ld\n", w, (long)st.st_size, (long)lseek(fd, 0, SEEK_CUR));
  close(fd);
  fd = open(path, O_RDONLY);
  r = pread(fd, b, 8, st.st_size - 8);
  printf("tail bytes: %.8s\n", (char *)b);
  r = pread(fd, b, 100, 0);
  printf("head unchanged: %d\n", r == 100 && memcmp(b, a + pg / 2, 100) == 0);
  close(fd);
  // A file of the image opened read-only (through the Gofer's lower layer with the default overlay).
  fd = open("/etc/passwd", O_RDONLY);
  ssize_t n1 = 0, n2 = 0;
  while ((r = read(fd, b, 7)) > 0) n1 += r;
  lseek(fd, 0, SEEK_SET);
  while ((r = read(fd, b, 4 * pg)) > 0) n2 += r;
  fstat(fd, &st);
  printf("/etc/passwd in 7-byte and big reads: %d %d\n", n1 == st.st_size, n2 == st.st_size);
  close(fd);
  unlink(path);
  rmdir(argv[1]);
  printf("done\n");
  return 0;
}
