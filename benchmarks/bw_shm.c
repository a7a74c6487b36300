/*
 * bw_shm - one-way throughput through a ring of slots in POSIX shared memory.
 *
 *   bw_shm MESSAGE_BYTES MESSAGES RUNS WRITER_CPU READER_CPU
 *
 * As ipclab.throughput's "shm": slots = 256 KiB / MESSAGE_BYTES (4 to 1024); the writer
 * waits on a "free slots" semaphore, memcpy's a message in (the last of each run also gets
 * its sequence number in its first 8 bytes) and posts "full slots"; the reader waits on
 * "full slots", memcpy's the message out and posts "free slots". Waiting is blocking
 * (futex-based process-shared semaphores), never spinning: a spinning handoff starves the
 * other process on one CPU.
 */
#include "common.h"

#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>

struct bells {
    sem_t free_slots;
    sem_t full_slots;
};

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s MESSAGE_BYTES MESSAGES RUNS WRITER_CPU READER_CPU\n", argv[0]);
        return 2;
    }
    long msg = parse_long(argv[1], "MESSAGE_BYTES", 1, 1L << 30);
    long messages = parse_long(argv[2], "MESSAGES", 1, 1L << 40);
    long runs = parse_long(argv[3], "RUNS", 1, 1000);
    int wcpu = (int)parse_long(argv[4], "WRITER_CPU", -1, 4095);
    int rcpu = (int)parse_long(argv[5], "READER_CPU", -1, 4095);
    long slots = (256L * 1024) / msg;
    slots = slots < 4 ? 4 : slots > 1024 ? 1024 : slots;
    size_t ring_bytes = (size_t)(slots * msg);
    size_t size = 4096 + ring_bytes; /* the semaphores, then the ring */

    char name[64];
    snprintf(name, sizeof name, "/ipclab_c_%d", (int)getpid());
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd == -1)
        die("shm_open");
    if (ftruncate(fd, (off_t)size) == -1) {
        shm_unlink(name);
        die("ftruncate");
    }
    unsigned char *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    shm_unlink(name); /* the mapping lives on, inherited by both children; no name left */
    if (base == MAP_FAILED)
        die("mmap");
    close(fd);
    struct bells *b = (struct bells *)base;
    unsigned char *ring = base + 4096;
    if (sem_init(&b->free_slots, 1, (unsigned)slots) == -1 || sem_init(&b->full_slots, 1, 0) == -1)
        die("sem_init");
    int go[2];
    if (pipe(go) == -1)
        die("pipe");

    pid_t writer = fork_or_die();
    if (writer == 0) {
        close(go[1]);
        pin(wcpu);
        unsigned char *src = malloc((size_t)msg);
        if (!src)
            die("malloc");
        fill_pattern(src, (size_t)msg);
        wait_for_go(go[0]);
        size_t off = 0;
        for (long r = 0; r < runs; r++) {
            for (long i = 0; i < messages; i++) {
                sem_wait_checked(&b->free_slots);
                memcpy(ring + off, src, (size_t)msg); /* copy in */
                if (i == messages - 1 && msg >= 8) { /* the run's last: stamp its number */
                    uint64_t seq = (uint64_t)((r + 1) * messages - 1);
                    memcpy(ring + off, &seq, 8);
                }
                if (sem_post(&b->full_slots) == -1) /* doorbell */
                    die("sem_post");
                off += (size_t)msg;
                if (off == ring_bytes)
                    off = 0;
            }
        }
        _exit(0);
    }
    pid_t reader = fork_or_die();
    if (reader == 0) {
        close(go[1]);
        pin(rcpu);
        unsigned char *dst = malloc((size_t)msg), *expect = malloc((size_t)msg);
        double *times = malloc(sizeof(double) * (size_t)runs);
        if (!dst || !expect || !times)
            die("malloc");
        fill_pattern(expect, (size_t)msg);
        wait_for_go(go[0]);
        size_t off = 0;
        uint64_t seq = 0;
        double prev = now_s();
        for (long r = 0; r < runs; r++) {
            for (long i = 0; i < messages; i++) {
                sem_wait_checked(&b->full_slots);
                memcpy(dst, ring + off, (size_t)msg); /* copy out */
                if (sem_post(&b->free_slots) == -1)
                    die("sem_post");
                off += (size_t)msg;
                if (off == ring_bytes)
                    off = 0;
            }
            seq += (uint64_t)messages;
            double t = now_s();
            times[r] = t - prev;
            prev = t;
            uint64_t got;
            if (msg >= 8) { /* spot check the run's last message, as ipclab does */
                memcpy(&got, dst, 8);
                if (got != seq - 1 || memcmp(dst + 8, expect + 8, (size_t)msg - 8) != 0) {
                    fprintf(stderr, "content mismatch at message %llu\n", (unsigned long long)(seq - 1));
                    _exit(1);
                }
            }
        }
        print_times("shm", msg, times, runs);
        _exit(0);
    }
    close(go[0]);
    close(go[1]); /* go! */
    int bad = reap(writer, reader);
    munmap(base, size);
    return bad;
}
