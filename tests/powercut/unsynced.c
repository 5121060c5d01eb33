/* unsynced.c: an LD_PRELOAD shim that remembers, for every file under one directory, what a power
 * cut would take back: every write that no fsync has covered yet.
 *
 * Before a write reaches a file under POWERCUT_DIR (pwrite/pwrite64/pwritev*, write/writev,
 * ftruncate/truncate, fallocate, copy_file_range/sendfile into it, and the truncation of an open
 * with O_TRUNC), the shim appends an UNDO record to that file's journal in POWERCUT_JOURNAL: the
 * range's old bytes and the file's old size. An fsync or fdatasync of the file (through any of its
 * descriptors) appends a SYNC record: every record written before that call started is durable.
 * A file created here (open with O_CREAT that made it) gets a CREATE record; an fsync of
 * POWERCUT_DIR itself gives each file created before it a DIRSYNC record. The journals are written
 * with plain pwrite: the cut is simulated by SIGKILL, so the kernel keeps them.
 *
 * After the SIGKILL, the restore (src-tauri/crates/cli/tests/powercut.rs) undoes, newest first, the
 * records no SYNC covers: each file returns to what was last fsynced. A created file never fsynced
 * (or, with the strict directory model, whose directory was never fsynced since) is removed.
 * See docs/powercut.md for what is modelled and what is not.
 *
 * Files are told apart by inode (fstat on every write-like call; /proc/self/fd/N names a new one),
 * so dup'd descriptors, descriptors opened elsewhere (a sync thread's own read-only one) and renames
 * need no bookkeeping. "*-shm" files (SQLite's mmap'd wal-index, which SQLite rebuilds) are not
 * tracked; the restore deletes them.
 *
 * POWERCUT_FSYNC picks how fsync/fdatasync of a tracked file behave:
 *   honest (default): a SYNC covering every record written before the call started;
 *   lag:  a SYNC covering only what the *previous* fsync of that file covered (an fsync one call
 *         late: a store that answers a group before its own fsync would look like this);
 *   lie:  returns 0 at once and records nothing (a disk that acknowledges and keeps nothing).
 * POWERCUT_SYNC_DELAY_US (default 0) makes each fsync/fdatasync of a tracked file wait that long
 * before it starts (after the point that decides what it covers): a slow disk, on which a cut more
 * often finds written but unsynced data.
 * POWERCUT_KILL_AT_SYNC=N / POWERCUT_KILL_AT_WRITE=N: the process SIGKILLs itself when its Nth
 * fsync/fdatasync of a tracked file starts (before it covers anything), or right before its Nth
 * write to a tracked file reaches the file (after the undo is recorded): the cut at the moment the
 * most is unsynced, or between two writes of one commit or checkpoint. With POWERCUT_ARM=PATH the
 * counting starts only once PATH exists (the driver creates it when its load starts).
 *
 * Build: gcc -O2 -shared -fPIC -o libunsynced.so unsynced.c -ldl -lpthread
 * Without POWERCUT_DIR and POWERCUT_JOURNAL set it only passes calls through. Any failure to keep a
 * journal aborts the process (a harness that silently stops journaling would prove nothing). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- journal format (native endianness; read by powercut.rs) --------------------------------- */

#define MAGIC 0x43525750u /* "PWRC" */
enum { K_PATH = 1, K_UNDO = 2, K_SYNC = 3, K_CREATE = 4, K_DIRSYNC = 5, K_DEAD = 6 };

/* 40 bytes, then `len` bytes of payload.
 *   PATH:    a = st_dev, c = st_ino, payload = the path when first seen.
 *   UNDO:    a = offset, c = the file's size before the change, payload = the old bytes of
 *            [offset, offset + len) (only what lay below the old size).
 *   SYNC:    a = journal position: every record starting before it is durable.
 *   CREATE, DIRSYNC: no payload.
 *   DEAD:    the file is gone and a new one has its inode: the reader ignores this journal.
 * `epoch` changes when a fully synced journal is started over (written from offset 0 again): a
 * reader stops at the first record of another epoch (the tail of the previous one). */
struct rec {
    uint32_t magic;
    uint32_t kind;
    uint32_t epoch;
    uint32_t pad;
    uint64_t a;
    uint64_t len;
    uint64_t c;
};

/* ---- the real functions ---------------------------------------------------------------------- */

#define REAL(name) real_##name
#define DECL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
DECL(int, open64, const char *, int, ...);
DECL(int, openat64, int, const char *, int, ...);
DECL(ssize_t, write, int, const void *, size_t);
DECL(ssize_t, pwrite, int, const void *, size_t, off_t);
DECL(ssize_t, pwrite64, int, const void *, size_t, off64_t);
DECL(ssize_t, writev, int, const struct iovec *, int);
DECL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
DECL(ssize_t, pwritev64, int, const struct iovec *, int, off64_t);
DECL(ssize_t, pwritev2, int, const struct iovec *, int, off_t, int);
DECL(ssize_t, pwritev64v2, int, const struct iovec *, int, off64_t, int);
DECL(int, ftruncate, int, off_t);
DECL(int, ftruncate64, int, off64_t);
DECL(int, truncate, const char *, off_t);
DECL(int, truncate64, const char *, off64_t);
DECL(int, fallocate, int, int, off_t, off_t);
DECL(int, fallocate64, int, int, off64_t, off64_t);
DECL(int, posix_fallocate, int, off_t, off_t);
DECL(int, posix_fallocate64, int, off64_t, off64_t);
DECL(ssize_t, copy_file_range, int, off64_t *, int, off64_t *, size_t, unsigned int);
DECL(ssize_t, sendfile, int, int, off_t *, size_t);
DECL(ssize_t, sendfile64, int, int, off64_t *, size_t);
DECL(int, fsync, int);
DECL(int, fdatasync, int);
DECL(int, syncfs, int);
DECL(void, sync, void);
DECL(void *, mmap, void *, size_t, int, int, int, off_t);
DECL(void *, mmap64, void *, size_t, int, int, int, off64_t);

#define RESOLVE(name)                                                                              \
    do {                                                                                           \
        if (!real_##name) {                                                                        \
            *(void **)(&real_##name) = dlsym(RTLD_NEXT, #name);                                    \
            if (!real_##name) die("dlsym " #name);                                                 \
        }                                                                                          \
    } while (0)

/* ---- state ----------------------------------------------------------------------------------- */

enum { HONEST, LAG, LIE };

static int active;
static int fsync_mode = HONEST;
static long sync_delay_us;
static long kill_at_sync, kill_at_write;
static long syncs_seen, writes_seen;
static char arm_path[PATH_MAX];
static int armed = 1;
static char dir[PATH_MAX];
static size_t dir_len;
static char journal_dir[PATH_MAX];

#define MAX_ENTRIES 512
struct entry {
    int used, dead;
    dev_t dev;
    ino_t ino;
    int rfd;       /* read-only descriptor of the file, to read old bytes */
    int jfd;       /* the journal */
    uint64_t jlen; /* bytes written to the journal in this epoch */
    uint32_t epoch;
    uint64_t lag_pos; /* lag mode: the previous fsync's snapshot ... */
    uint32_t lag_epoch; /* ... and its epoch */
    int created, dirsynced;
    uint64_t created_seq;
    pthread_mutex_t mu;
    char path[PATH_MAX];
};
static struct entry entries[MAX_ENTRIES];
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t create_seq;
static unsigned journal_serial;

/* Regular files seen outside the directory, so that their writes skip readlink. */
#define MAX_NEG 128
static struct { dev_t dev; ino_t ino; int used; } neg[MAX_NEG];
static unsigned neg_next;

static void die(const char *what) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "powercut shim: %s failed (errno %d); aborting\n", what, errno);
    if (n > 0) {
        ssize_t ignored = syscall(SYS_write, 2, buf, (size_t)n);
        (void)ignored;
    }
    abort();
}

static void pwrite_all(int fd, const void *buf, size_t n, uint64_t off) {
    RESOLVE(pwrite64);
    const char *p = buf;
    while (n > 0) {
        ssize_t w = real_pwrite64(fd, p, n, (off64_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("writing a journal");
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
}

/* Appends one record (header and payload in one write, so a record is whole or, if the process
 * died inside the write, torn at the journal's end, where the reader stops). Caller holds e->mu. */
static void append(struct entry *e, uint32_t kind, uint64_t a, uint64_t c, const void *payload,
                   uint64_t len) {
    struct rec r = { MAGIC, kind, e->epoch, 0, a, len, c };
    size_t total = sizeof r + (size_t)len;
    char stackbuf[4096];
    char *buf = total <= sizeof stackbuf ? stackbuf : malloc(total);
    if (!buf) die("malloc");
    memcpy(buf, &r, sizeof r);
    if (len) memcpy(buf + sizeof r, payload, (size_t)len);
    pwrite_all(e->jfd, buf, total, e->jlen);
    if (buf != stackbuf) free(buf);
    e->jlen += total;
}

/* Writes the journal's head (PATH, CREATE, DIRSYNC as known, then a SYNC covering them) at offset
 * 0 in a new epoch, then cuts off the rest. Caller holds e->mu. */
static void start_over(struct entry *e) {
    e->epoch++;
    e->jlen = 0;
    append(e, K_PATH, (uint64_t)e->dev, (uint64_t)e->ino, e->path, strlen(e->path) + 1);
    if (e->created) append(e, K_CREATE, 0, 0, 0, 0);
    if (e->dirsynced) append(e, K_DIRSYNC, 0, 0, 0, 0);
    append(e, K_SYNC, e->jlen + sizeof(struct rec), 0, 0, 0);
    RESOLVE(ftruncate64);
    if (real_ftruncate64(e->jfd, (off64_t)e->jlen) != 0) die("truncating a journal");
}

static int tracked_path(const char *p) {
    size_t n = strlen(p);
    if (strncmp(p, dir, dir_len) != 0 || p[dir_len] != '/') return 0;
    if (n >= 4 && strcmp(p + n - 4, "-shm") == 0) return 0;
    if (n >= 10 && strcmp(p + n - 10, " (deleted)") == 0) return 0;
    return 1;
}

static int fd_path(int fd, char *out, size_t cap) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, cap - 1);
    if (n < 0) return -1;
    out[n] = 0;
    return 0;
}

/* A new entry for the file open on `fd` (table_mu held). */
static struct entry *new_entry(int fd, const struct stat *st, const char *path) {
    struct entry *e = 0;
    for (int i = 0; i < MAX_ENTRIES; i++)
        if (!entries[i].used) {
            e = &entries[i];
            break;
        }
    if (!e) die("tracking more files than MAX_ENTRIES");
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, 0);
    e->used = 1;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    snprintf(e->path, sizeof e->path, "%s", path);
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    RESOLVE(open64);
    e->rfd = real_open64(link, O_RDONLY | O_CLOEXEC);
    if (e->rfd < 0) die("opening a tracked file for reading");
    char jpath[PATH_MAX + 64];
    snprintf(jpath, sizeof jpath, "%s/%lu-%lu-%u-%d.undo", journal_dir, (unsigned long)st->st_dev,
             (unsigned long)st->st_ino, journal_serial++, (int)getpid());
    e->jfd = real_open64(jpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (e->jfd < 0) die("creating a journal");
    e->epoch = 1;
    append(e, K_PATH, (uint64_t)e->dev, (uint64_t)e->ino, e->path, strlen(path) + 1);
    return e;
}

/* The entry of the tracked regular file open on `fd`, or NULL. */
static struct entry *lookup(int fd) {
    if (!active || fd < 0) return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    struct entry *found = 0;
    pthread_mutex_lock(&table_mu);
    for (int i = 0; i < MAX_ENTRIES; i++)
        if (entries[i].used && !entries[i].dead && entries[i].ino == st.st_ino &&
            entries[i].dev == st.st_dev) {
            found = &entries[i];
            break;
        }
    if (!found) {
        int known_outside = 0;
        for (int i = 0; i < MAX_NEG; i++)
            if (neg[i].used && neg[i].ino == st.st_ino && neg[i].dev == st.st_dev) known_outside = 1;
        char path[PATH_MAX];
        if (!known_outside && fd_path(fd, path, sizeof path) == 0) {
            if (tracked_path(path)) {
                found = new_entry(fd, &st, path);
            } else {
                unsigned k = neg_next++ % MAX_NEG;
                neg[k].dev = st.st_dev;
                neg[k].ino = st.st_ino;
                neg[k].used = 1;
            }
        }
    }
    pthread_mutex_unlock(&table_mu);
    return found;
}

/* Records the undo of a change to [off, off + n) of e's file (n may reach past the end), the file
 * being open on `fd`. Caller holds e->mu. */
static void record_undo(struct entry *e, int fd, uint64_t off, uint64_t n) {
    struct stat st;
    if (fstat(fd, &st) != 0) die("fstat of a tracked file");
    uint64_t size = (uint64_t)st.st_size;
    uint64_t keep = off < size ? (size - off < n ? size - off : n) : 0;
    char *old = 0;
    if (keep) {
        old = malloc((size_t)keep);
        if (!old) die("malloc");
        uint64_t got = 0;
        while (got < keep) {
            ssize_t r = pread64(e->rfd, old + got, (size_t)(keep - got), (off64_t)(off + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) die("reading old bytes");
            got += (uint64_t)r;
        }
    }
    append(e, K_UNDO, off, size, old, keep);
    free(old);
}

/* The cut from inside: the Nth event of its kind kills the whole process at once. */
static void maybe_cut(long at, long *seen) {
    if (at <= 0) return;
    if (!__atomic_load_n(&armed, __ATOMIC_SEQ_CST)) {
        int saved = errno;
        int now = access(arm_path, F_OK) == 0;
        errno = saved;
        if (!now) return;
        __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
    }
    if (__atomic_add_fetch(seen, 1, __ATOMIC_SEQ_CST) == at) kill(getpid(), SIGKILL);
}

/* A write through a descriptor opened O_SYNC/O_DSYNC is durable when it returns. */
static void after_write(struct entry *e, int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & (O_SYNC | O_DSYNC)) && fsync_mode == HONEST) append(e, K_SYNC, e->jlen, 0, 0, 0);
}

static uint64_t current_offset(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_APPEND)) {
        struct stat st;
        if (fstat(fd, &st) == 0) return (uint64_t)st.st_size;
    }
    off64_t o = lseek64(fd, 0, SEEK_CUR);
    return o < 0 ? 0 : (uint64_t)o;
}

static uint64_t iov_total(const struct iovec *iov, int cnt) {
    uint64_t t = 0;
    for (int i = 0; i < cnt; i++) t += iov[i].iov_len;
    return t;
}

/* Runs `body` (the real call) between recording the undo of [off, off+n) and after_write, all under
 * the entry's lock, so that the journal's order is the writes' order. */
#define TRACKED_WRITE(fd, off_expr, n_expr, call)                                                  \
    do {                                                                                           \
        struct entry *e_ = lookup(fd);                                                             \
        if (!e_) return call;                                                                      \
        pthread_mutex_lock(&e_->mu);                                                               \
        if ((n_expr) > 0) record_undo(e_, fd, (off_expr), (n_expr));                               \
        maybe_cut(kill_at_write, &writes_seen);                                                    \
        __typeof__(call) r_ = call;                                                                \
        int saved_ = errno;                                                                        \
        after_write(e_, fd);                                                                       \
        pthread_mutex_unlock(&e_->mu);                                                             \
        errno = saved_;                                                                            \
        return r_;                                                                                 \
    } while (0)

/* ---- set-up ---------------------------------------------------------------------------------- */

__attribute__((constructor)) static void init(void) {
    const char *d = getenv("POWERCUT_DIR");
    const char *j = getenv("POWERCUT_JOURNAL");
    if (!d || !*d || !j || !*j) return;
    if (!realpath(d, dir)) die("realpath POWERCUT_DIR (it must exist before the start)");
    dir_len = strlen(dir);
    snprintf(journal_dir, sizeof journal_dir, "%s", j);
    const char *m = getenv("POWERCUT_FSYNC");
    if (m && strcmp(m, "lag") == 0) fsync_mode = LAG;
    else if (m && strcmp(m, "lie") == 0) fsync_mode = LIE;
    else if (m && *m && strcmp(m, "honest") != 0) die("POWERCUT_FSYNC (honest, lag or lie)");
    const char *delay = getenv("POWERCUT_SYNC_DELAY_US");
    if (delay) sync_delay_us = atol(delay);
    const char *ks = getenv("POWERCUT_KILL_AT_SYNC");
    if (ks) kill_at_sync = atol(ks);
    const char *kw = getenv("POWERCUT_KILL_AT_WRITE");
    if (kw) kill_at_write = atol(kw);
    const char *arm = getenv("POWERCUT_ARM");
    if (arm && *arm) {
        snprintf(arm_path, sizeof arm_path, "%s", arm);
        armed = 0;
    }
    active = 1;
}

/* ---- opening --------------------------------------------------------------------------------- */

/* Every open: O_TRUNC is done here (after recording the old content) rather than by the kernel,
 * and O_CREAT is tried with O_EXCL first, to know whether the file was made by this call. */
static int do_open(int dirfd, const char *path, int flags, mode_t mode) {
    RESOLVE(openat64);
    RESOLVE(ftruncate64);
    if (!active || (flags & __O_TMPFILE) == __O_TMPFILE || !(flags & (O_CREAT | O_TRUNC)))
        return real_openat64(dirfd, path, flags, mode);
    int created = 0, fd = -1;
    int f = flags & ~O_TRUNC;
    if ((flags & O_CREAT) && !(flags & O_EXCL)) {
        for (int tries = 0; tries < 3 && fd < 0; tries++) {
            fd = real_openat64(dirfd, path, f | O_EXCL, mode);
            if (fd >= 0) {
                created = 1;
                break;
            }
            if (errno != EEXIST) return -1;
            fd = real_openat64(dirfd, path, f & ~O_CREAT, mode);
            if (fd < 0 && errno != ENOENT) return -1;
        }
        if (fd < 0) fd = real_openat64(dirfd, path, f, mode);
    } else {
        fd = real_openat64(dirfd, path, f, mode);
        created = fd >= 0 && (flags & O_CREAT) && (flags & O_EXCL);
    }
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return fd;
    if (created) {
        char p[PATH_MAX];
        pthread_mutex_lock(&table_mu);
        /* A new file may reuse the inode of one deleted earlier: that one's journal is done. */
        for (int i = 0; i < MAX_ENTRIES; i++)
            if (entries[i].used && !entries[i].dead && entries[i].ino == st.st_ino &&
                entries[i].dev == st.st_dev) {
                pthread_mutex_lock(&entries[i].mu);
                append(&entries[i], K_DEAD, 0, 0, 0, 0);
                entries[i].dead = 1;
                pthread_mutex_unlock(&entries[i].mu);
            }
        for (int i = 0; i < MAX_NEG; i++)
            if (neg[i].used && neg[i].ino == st.st_ino && neg[i].dev == st.st_dev) neg[i].used = 0;
        if (fd_path(fd, p, sizeof p) == 0 && tracked_path(p)) {
            struct entry *e = new_entry(fd, &st, p);
            pthread_mutex_lock(&e->mu);
            e->created = 1;
            e->created_seq = ++create_seq;
            append(e, K_CREATE, 0, 0, 0, 0);
            pthread_mutex_unlock(&e->mu);
        }
        pthread_mutex_unlock(&table_mu);
    }
    if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY && st.st_size > 0) {
        struct entry *e = lookup(fd);
        if (e) {
            pthread_mutex_lock(&e->mu);
            record_undo(e, fd, 0, (uint64_t)st.st_size);
        }
        int r = real_ftruncate64(fd, 0);
        int saved = errno;
        if (e) pthread_mutex_unlock(&e->mu);
        if (r != 0) {
            close(fd);
            errno = saved;
            return -1;
        }
    }
    return fd;
}

#define MODE_ARG(flags)                                                                            \
    mode_t mode = 0;                                                                               \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                                       \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

int open(const char *path, int flags, ...) {
    MODE_ARG(flags);
    return do_open(AT_FDCWD, path, flags, mode);
}
int open64(const char *path, int flags, ...) {
    MODE_ARG(flags);
    return do_open(AT_FDCWD, path, flags, mode);
}
int openat(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags);
    return do_open(dirfd, path, flags, mode);
}
int openat64(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags);
    return do_open(dirfd, path, flags, mode);
}
int __open_2(const char *path, int flags) { return do_open(AT_FDCWD, path, flags, 0); }
int __open64_2(const char *path, int flags) { return do_open(AT_FDCWD, path, flags, 0); }
int __openat_2(int dirfd, const char *path, int flags) { return do_open(dirfd, path, flags, 0); }
int __openat64_2(int dirfd, const char *path, int flags) { return do_open(dirfd, path, flags, 0); }
int creat(const char *path, mode_t mode) {
    return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
int creat64(const char *path, mode_t mode) {
    return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* ---- writing --------------------------------------------------------------------------------- */

ssize_t write(int fd, const void *buf, size_t n) {
    RESOLVE(write);
    TRACKED_WRITE(fd, current_offset(fd), (uint64_t)n, real_write(fd, buf, n));
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    RESOLVE(pwrite);
    TRACKED_WRITE(fd, (uint64_t)off, (uint64_t)n, real_pwrite(fd, buf, n, off));
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
    RESOLVE(pwrite64);
    TRACKED_WRITE(fd, (uint64_t)off, (uint64_t)n, real_pwrite64(fd, buf, n, off));
}
ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    RESOLVE(writev);
    TRACKED_WRITE(fd, current_offset(fd), iov_total(iov, cnt), real_writev(fd, iov, cnt));
}
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    RESOLVE(pwritev);
    TRACKED_WRITE(fd, (uint64_t)off, iov_total(iov, cnt), real_pwritev(fd, iov, cnt, off));
}
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off) {
    RESOLVE(pwritev64);
    TRACKED_WRITE(fd, (uint64_t)off, iov_total(iov, cnt), real_pwritev64(fd, iov, cnt, off));
}
ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int fl) {
    RESOLVE(pwritev2);
    TRACKED_WRITE(fd, off == -1 ? current_offset(fd) : (uint64_t)off, iov_total(iov, cnt),
                  real_pwritev2(fd, iov, cnt, off, fl));
}
ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int fl) {
    RESOLVE(pwritev64v2);
    TRACKED_WRITE(fd, off == -1 ? current_offset(fd) : (uint64_t)off, iov_total(iov, cnt),
                  real_pwritev64v2(fd, iov, cnt, off, fl));
}

/* A size change: the undo keeps what a shrink cuts off (a growth keeps nothing but the old size). */
static uint64_t size_of(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}
int ftruncate(int fd, off_t len) {
    RESOLVE(ftruncate);
    TRACKED_WRITE(fd, (uint64_t)len, size_of(fd) > (uint64_t)len ? size_of(fd) - (uint64_t)len : 1,
                  real_ftruncate(fd, len));
}
int ftruncate64(int fd, off64_t len) {
    RESOLVE(ftruncate64);
    TRACKED_WRITE(fd, (uint64_t)len, size_of(fd) > (uint64_t)len ? size_of(fd) - (uint64_t)len : 1,
                  real_ftruncate64(fd, len));
}
static int truncate_path(const char *path, off64_t len) {
    RESOLVE(openat64);
    int fd = real_openat64(AT_FDCWD, path, O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0) return -1;
    int r = ftruncate64(fd, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}
int truncate(const char *path, off_t len) {
    RESOLVE(truncate);
    if (!active) return real_truncate(path, len);
    return truncate_path(path, len);
}
int truncate64(const char *path, off64_t len) {
    RESOLVE(truncate64);
    if (!active) return real_truncate64(path, len);
    return truncate_path(path, len);
}
int fallocate(int fd, int mode, off_t off, off_t len) {
    RESOLVE(fallocate);
    TRACKED_WRITE(fd, (uint64_t)off, (uint64_t)len, real_fallocate(fd, mode, off, len));
}
int fallocate64(int fd, int mode, off64_t off, off64_t len) {
    RESOLVE(fallocate64);
    TRACKED_WRITE(fd, (uint64_t)off, (uint64_t)len, real_fallocate64(fd, mode, off, len));
}
int posix_fallocate(int fd, off_t off, off_t len) {
    RESOLVE(posix_fallocate);
    TRACKED_WRITE(fd, (uint64_t)off, (uint64_t)len, real_posix_fallocate(fd, off, len));
}
int posix_fallocate64(int fd, off64_t off, off64_t len) {
    RESOLVE(posix_fallocate64);
    TRACKED_WRITE(fd, (uint64_t)off, (uint64_t)len, real_posix_fallocate64(fd, off, len));
}
ssize_t copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off, size_t n, unsigned fl) {
    RESOLVE(copy_file_range);
    TRACKED_WRITE(out, out_off ? (uint64_t)*out_off : current_offset(out), (uint64_t)n,
                  real_copy_file_range(in, in_off, out, out_off, n, fl));
}
ssize_t sendfile(int out, int in, off_t *off, size_t n) {
    RESOLVE(sendfile);
    TRACKED_WRITE(out, current_offset(out), (uint64_t)n, real_sendfile(out, in, off, n));
}
ssize_t sendfile64(int out, int in, off64_t *off, size_t n) {
    RESOLVE(sendfile64);
    TRACKED_WRITE(out, current_offset(out), (uint64_t)n, real_sendfile64(out, in, off, n));
}

/* A writable shared mapping of a tracked file would change it behind the shim's back: say so. */
static void check_mapping(int prot, int flags, int fd) {
    if (!active || fd < 0 || !(prot & PROT_WRITE) || !(flags & MAP_SHARED)) return;
    struct entry *e = lookup(fd);
    if (e) {
        char buf[PATH_MAX + 128];
        int n = snprintf(buf, sizeof buf,
                         "powercut shim: warning: %s is mapped writable and shared; writes through "
                         "the mapping are not journaled\n",
                         e->path);
        RESOLVE(write);
        if (n > 0) {
            ssize_t ignored = real_write(2, buf, (size_t)n);
            (void)ignored;
        }
    }
}
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    RESOLVE(mmap);
    check_mapping(prot, flags, fd);
    return real_mmap(addr, len, prot, flags, fd, off);
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
    RESOLVE(mmap64);
    check_mapping(prot, flags, fd);
    return real_mmap64(addr, len, prot, flags, fd, off);
}

/* ---- syncing --------------------------------------------------------------------------------- */

/* An fsync of the directory itself: the files created before it started now have a durable name. */
static int sync_dir(int fd, int (*fn)(int)) {
    char p[PATH_MAX];
    if (fd_path(fd, p, sizeof p) != 0 || strcmp(p, dir) != 0) return fn(fd);
    if (fsync_mode == LIE) return 0;
    pthread_mutex_lock(&table_mu);
    uint64_t before = create_seq;
    pthread_mutex_unlock(&table_mu);
    int r = fn(fd);
    if (r != 0) return r;
    pthread_mutex_lock(&table_mu);
    for (int i = 0; i < MAX_ENTRIES; i++) {
        struct entry *e = &entries[i];
        if (!e->used || e->dead || !e->created || e->dirsynced || e->created_seq > before) continue;
        pthread_mutex_lock(&e->mu);
        e->dirsynced = 1;
        append(e, K_DIRSYNC, 0, 0, 0, 0);
        pthread_mutex_unlock(&e->mu);
    }
    pthread_mutex_unlock(&table_mu);
    return r;
}

/* Marks as durable the records up to `pos` of `epoch` (caller holds e->mu); a journal that is then
 * all durable starts over. */
static void mark_durable(struct entry *e, uint32_t epoch, uint64_t pos) {
    if (epoch != e->epoch) return; /* the journal started over since: that covered more */
    if (pos >= e->jlen) start_over(e);
    else append(e, K_SYNC, pos, 0, 0, 0);
}

static int do_sync(int fd, int (*fn)(int)) {
    if (!active) return fn(fd);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) return sync_dir(fd, fn);
    struct entry *e = lookup(fd);
    if (!e) return fn(fd);
    if (fsync_mode == LIE) return 0;
    pthread_mutex_lock(&e->mu);
    uint64_t snap = e->jlen;
    uint32_t epoch = e->epoch;
    pthread_mutex_unlock(&e->mu);
    maybe_cut(kill_at_sync, &syncs_seen);
    if (sync_delay_us > 0) {
        struct timespec t = { sync_delay_us / 1000000, (sync_delay_us % 1000000) * 1000 };
        while (nanosleep(&t, &t) != 0 && errno == EINTR) {
        }
    }
    int r = fn(fd);
    if (r != 0) return r;
    int saved = errno;
    pthread_mutex_lock(&e->mu);
    if (fsync_mode == LAG) {
        uint64_t pos = e->lag_pos;
        uint32_t lag_epoch = e->lag_epoch;
        e->lag_pos = snap;
        e->lag_epoch = epoch;
        if (lag_epoch == e->epoch && pos > 0) append(e, K_SYNC, pos, 0, 0, 0);
    } else {
        mark_durable(e, epoch, snap);
    }
    pthread_mutex_unlock(&e->mu);
    errno = saved;
    return r;
}

int fsync(int fd) {
    RESOLVE(fsync);
    return do_sync(fd, real_fsync);
}
int fdatasync(int fd) {
    RESOLVE(fdatasync);
    return do_sync(fd, real_fdatasync);
}

/* sync()/syncfs(): every record written before the call started is durable (honest mode only). */
struct snapshot {
    uint32_t epoch[MAX_ENTRIES];
    uint64_t pos[MAX_ENTRIES];
};
static void take_snapshot(struct snapshot *s) {
    pthread_mutex_lock(&table_mu);
    for (int i = 0; i < MAX_ENTRIES; i++) {
        struct entry *e = &entries[i];
        s->epoch[i] = 0;
        if (!e->used || e->dead) continue;
        pthread_mutex_lock(&e->mu);
        s->epoch[i] = e->epoch;
        s->pos[i] = e->jlen;
        pthread_mutex_unlock(&e->mu);
    }
    pthread_mutex_unlock(&table_mu);
}
static void all_durable(const struct snapshot *s) {
    if (fsync_mode != HONEST) return;
    pthread_mutex_lock(&table_mu);
    for (int i = 0; i < MAX_ENTRIES; i++) {
        struct entry *e = &entries[i];
        if (!e->used || e->dead || s->epoch[i] == 0) continue;
        pthread_mutex_lock(&e->mu);
        mark_durable(e, s->epoch[i], s->pos[i]);
        pthread_mutex_unlock(&e->mu);
    }
    pthread_mutex_unlock(&table_mu);
}
int syncfs(int fd) {
    RESOLVE(syncfs);
    if (!active) return real_syncfs(fd);
    if (fsync_mode == LIE) return 0;
    static struct snapshot s;
    static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&one);
    take_snapshot(&s);
    int r = real_syncfs(fd);
    if (r == 0) all_durable(&s);
    pthread_mutex_unlock(&one);
    return r;
}
void sync(void) {
    RESOLVE(sync);
    if (!active) return real_sync();
    if (fsync_mode == LIE) return;
    static struct snapshot s;
    static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&one);
    take_snapshot(&s);
    real_sync();
    all_durable(&s);
    pthread_mutex_unlock(&one);
}
