/*
 * common.h - what every ipclab C reference benchmark shares.
 *
 * The benchmarks mirror ipclab.throughput process for process: a parent forks two children
 * (writer and reader, or client and server), pins each to the CPU it is given (-1: not
 * pinned), releases both at once by closing a "go" pipe, and waits for both. Times come
 * from CLOCK_MONOTONIC; results are printed as one JSON object on stdout, in seconds.
 * Every system call is checked; children end in _exit.
 */
#ifndef IPCLAB_BENCH_COMMON_H
#define IPCLAB_BENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define PATTERN_PERIOD 251 /* as ipclab: a prime, so a shifted stream does not match */

static inline void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(errno));
    _exit(1);
}

/* fork(), or die saying so. On Linux a child also dies with its parent: a benchmark killed
 * on a timeout or an interrupt leaves no writer or reader behind. */
static inline pid_t fork_or_die(void)
{
#ifdef __linux__
    pid_t parent = getpid();
#endif
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
#ifdef __linux__
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
            die("prctl");
        if (getppid() != parent) /* the parent died before prctl took effect */
            _exit(1);
    }
#endif
    return pid;
}

/* sem_wait(), retried when a signal interrupts it. */
static inline void sem_wait_checked(sem_t *s)
{
    while (sem_wait(s) == -1)
        if (errno != EINTR)
            die("sem_wait");
}

static inline double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        die("clock_gettime");
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void pin(int cpu)
{
    if (cpu < 0)
        return;
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) == -1)
        die("sched_setaffinity");
#else
    fprintf(stderr, "pinning is not supported here: use cpu -1\n");
    _exit(2);
#endif
}

static inline long parse_long(const char *text, const char *name, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "%s must be a whole number from %ld to %ld, got '%s'\n", name, lo, hi, text);
        exit(2);
    }
    return v;
}

static inline void fill_pattern(unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i % PATTERN_PERIOD);
}

/* Write all of buf (a blocking write may still be cut short by a signal or a socket). */
static inline void write_all(int fd, const unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            die("write");
        }
        buf += w;
        n -= (size_t)w;
    }
}

static inline void read_exactly(int fd, unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, buf, n);
        if (r == -1) {
            if (errno == EINTR)
                continue;
            die("read");
        }
        if (r == 0) {
            fprintf(stderr, "peer closed early\n");
            _exit(1);
        }
        buf += r;
        n -= (size_t)r;
    }
}

/* "$TMPDIR/ipclab-c-XXXXXX" (or /tmp/...), for mkdtemp: a 0700 directory for FIFOs. */
static inline void private_dir_template(char *buf, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > size - 32)
        tmp = "/tmp";
    snprintf(buf, size, "%s/ipclab-c-XXXXXX", tmp);
}

/* Block until the parent closes the go pipe's write end (read returns 0). */
static inline void wait_for_go(int go_r)
{
    char c;
    while (read(go_r, &c, 1) == -1 && errno == EINTR)
        ;
}

static inline void print_times(const char *mech, long msg, const double *t, long runs)
{
    printf("{\"mechanism\": \"%s\", \"message_bytes\": %ld, \"seconds\": [", mech, msg);
    for (long i = 0; i < runs; i++)
        printf("%s%.9f", i ? ", " : "", t[i]);
    printf("]}\n");
    fflush(stdout);
}

/* Wait for both children; fail if either failed. */
static inline int reap(pid_t a, pid_t b)
{
    int bad = 0;
    pid_t kids[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        int status;
        while (waitpid(kids[i], &status, 0) == -1)
            if (errno != EINTR)
                die("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child %d failed (status 0x%x)\n", (int)kids[i], status);
            bad = 1;
        }
    }
    return bad;
}

#endif
