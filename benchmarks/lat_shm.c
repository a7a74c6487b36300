/*
 * lat_shm - round-trip time through a shared-memory mailbox with two semaphores.
 *
 *   lat_shm MESSAGE_BYTES ROUND_TRIPS RUNS CLIENT_CPU SERVER_CPU
 *
 * As ipclab.throughput's "shm" latency: the client copies the message in and posts
 * "ping"; the server waits for it, copies the message out and back in, posts "pong"; the
 * client waits and copies the reply out. Blocking semaphores, no spinning.
 */
#include "common.h"

#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>

struct bells {
    sem_t ping;
    sem_t pong;
};

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s MESSAGE_BYTES ROUND_TRIPS RUNS CLIENT_CPU SERVER_CPU\n", argv[0]);
        return 2;
    }
    long msg = parse_long(argv[1], "MESSAGE_BYTES", 1, 1L << 24);
    long trips = parse_long(argv[2], "ROUND_TRIPS", 1, 10000000);
    long runs = parse_long(argv[3], "RUNS", 1, 1000);
    int ccpu = (int)parse_long(argv[4], "CLIENT_CPU", -1, 4095);
    int scpu = (int)parse_long(argv[5], "SERVER_CPU", -1, 4095);
    size_t size = 4096 + (size_t)msg;
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
    shm_unlink(name);
    if (base == MAP_FAILED)
        die("mmap");
    close(fd);
    struct bells *b = (struct bells *)base;
    unsigned char *box = base + 4096;
    if (sem_init(&b->ping, 1, 0) == -1 || sem_init(&b->pong, 1, 0) == -1)
        die("sem_init");
    int go[2];
    if (pipe(go) == -1)
        die("pipe");

    pid_t client = fork_or_die();
    if (client == 0) {
        close(go[1]);
        pin(ccpu);
        unsigned char *message = malloc((size_t)msg), *reply = malloc((size_t)msg);
        double *times = malloc(sizeof(double) * (size_t)runs);
        if (!message || !reply || !times)
            die("malloc");
        fill_pattern(message, (size_t)msg);
        memset(reply, 0, (size_t)msg);
        wait_for_go(go[0]);
        for (long r = 0; r < runs; r++) {
            double t0 = now_s();
            for (long i = 0; i < trips; i++) {
                memcpy(box, message, (size_t)msg);
                if (sem_post(&b->ping) == -1)
                    die("sem_post");
                sem_wait_checked(&b->pong);
                memcpy(reply, box, (size_t)msg);
            }
            times[r] = (now_s() - t0) / (double)trips;
        }
        if (memcmp(reply, message, (size_t)msg) != 0) {
            fprintf(stderr, "the message came back changed\n");
            _exit(1);
        }
        print_times("shm", msg, times, runs);
        _exit(0);
    }
    pid_t server = fork_or_die();
    if (server == 0) {
        close(go[1]);
        pin(scpu);
        unsigned char *held = malloc((size_t)msg);
        if (!held)
            die("malloc");
        wait_for_go(go[0]);
        for (long i = 0; i < trips * runs; i++) {
            sem_wait_checked(&b->ping);
            memcpy(held, box, (size_t)msg);
            memcpy(box, held, (size_t)msg);
            if (sem_post(&b->pong) == -1)
                die("sem_post");
        }
        _exit(0);
    }
    close(go[0]);
    close(go[1]);
    int bad = reap(client, server);
    munmap(base, size);
    return bad;
}
