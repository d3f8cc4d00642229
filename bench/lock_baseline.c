/* The kernel's own lock queue, for the contention bench (bench/run.ts):
 * from START (ms since the epoch) for DURATION ms, repeatedly open FILE,
 * flock(LOCK_EX) blocking, read it, write 300 B in place, fdatasync, close,
 * timing each call. Prints the latencies in microseconds on one line.
 *
 * Usage: lock_baseline FILE START_EPOCH_MS DURATION_MS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static double now_ms(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s FILE START_EPOCH_MS DURATION_MS\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  double start = atof(argv[2]), duration = atof(argv[3]);
  double wait = start - now_ms(CLOCK_REALTIME);
  if (wait > 0) usleep((useconds_t)(wait * 1000));
  char buf[4096], out[300];
  memset(out, 'x', sizeof out);
  size_t cap = 1 << 16, n = 0;
  double *lat = malloc(cap * sizeof *lat);
  double end = now_ms(CLOCK_MONOTONIC) + duration;
  for (double t = now_ms(CLOCK_MONOTONIC); t < end; t = now_ms(CLOCK_MONOTONIC)) {
    int fd = open(path, O_RDWR);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) { perror(path); return 1; }
    if (read(fd, buf, sizeof buf) < 0 || pwrite(fd, out, sizeof out, 0) < 0 ||
        fdatasync(fd) != 0) {
      perror(path);
      return 1;
    }
    close(fd);
    if (n == cap) lat = realloc(lat, (cap *= 2) * sizeof *lat);
    lat[n++] = (now_ms(CLOCK_MONOTONIC) - t) * 1000;
  }
  for (size_t i = 0; i < n; i++) printf(i ? " %.0f" : "%.0f", lat[i]);
  printf("\n");
  return 0;
}
