/* A disk with a steady fsync, for comparing commit policies without the development VM's disk noise:
 * with the targets' data dirs on tmpfs, every fsync/fdatasync (the durable reference's, through
 * SQLite, and Shipwatch's sync thread's) sleeps FAKESYNC_US microseconds (default 500) instead.
 *
 *   gcc -O2 -shared -fPIC -o /tmp/libfakesync.so src-tauri/crates/bench/tools/fakesync.c
 *   LD_PRELOAD=/tmp/libfakesync.so FAKESYNC_US=500 \
 *     target/release/shipwatch-bench --work-dir /dev/shm/bench --stored 0,250000
 *
 * Only for measuring: nothing is made durable. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

static int steady_sync(void) {
    const char *v = getenv("FAKESYNC_US");
    long us = v ? atol(v) : 500;
    struct timespec t = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&t, 0);
    return 0;
}

int fdatasync(int fd) { (void)fd; return steady_sync(); }
int fsync(int fd) { (void)fd; return steady_sync(); }
