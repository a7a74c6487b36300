/*
 * bw_stream - one-way throughput of a pipe, a FIFO or a Unix domain stream socket pair.
 *
 *   bw_stream pipe|fifo|unix MESSAGE_BYTES MESSAGES RUNS WRITER_CPU READER_CPU
 *
 * The writer writes MESSAGES * RUNS messages of MESSAGE_BYTES (lmbench's bw_pipe uses
 * 64 KiB); the reader reads MESSAGE_BYTES at a time into one buffer and notes the time at
 * the end of each run of MESSAGES messages. Prints the seconds of every run (the first is a
 * warm-up: the caller drops it). CPU -1 = not pinned. Same method as ipclab.throughput.
 */
#include "common.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s pipe|fifo|unix MESSAGE_BYTES MESSAGES RUNS WRITER_CPU READER_CPU\n", argv[0]);
        return 2;
    }
    const char *mech = argv[1];
    long msg = parse_long(argv[2], "MESSAGE_BYTES", 1, 1L << 30);
    long messages = parse_long(argv[3], "MESSAGES", 1, 1L << 40);
    long runs = parse_long(argv[4], "RUNS", 1, 1000);
    int wcpu = (int)parse_long(argv[5], "WRITER_CPU", -1, 4095);
    int rcpu = (int)parse_long(argv[6], "READER_CPU", -1, 4095);

    int fds[2] = {-1, -1}; /* [read end, write end] */
    char dir[4096], path[4200] = "";
    if (strcmp(mech, "pipe") == 0) {
        if (pipe(fds) == -1)
            die("pipe");
    } else if (strcmp(mech, "unix") == 0) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1)
            die("socketpair");
    } else if (strcmp(mech, "fifo") == 0) {
        private_dir_template(dir, sizeof dir);
        if (!mkdtemp(dir)) /* 0700: private to us */
            die("mkdtemp");
        snprintf(path, sizeof path, "%s/bench.fifo", dir);
        if (mkfifo(path, 0600) == -1)
            die("mkfifo");
    } else {
        fprintf(stderr, "mechanism must be pipe, fifo or unix, got '%s'\n", mech);
        return 2;
    }
    int go[2];
    if (pipe(go) == -1)
        die("pipe");

    pid_t writer = fork_or_die();
    if (writer == 0) {
        close(go[1]); /* only the parent says go */
        pin(wcpu);
        int fd = path[0] ? open(path, O_WRONLY) : fds[1]; /* FIFO: waits for the reader */
        if (fd == -1)
            die("open fifo for writing");
        if (!path[0])
            close(fds[0]); /* read end unused here */
        unsigned char *buf = malloc((size_t)msg);
        if (!buf)
            die("malloc");
        fill_pattern(buf, (size_t)msg);
        wait_for_go(go[0]);
        for (long i = 0; i < messages * runs; i++)
            write_all(fd, buf, (size_t)msg);
        close(fd); /* reader sees EOF */
        _exit(0);
    }
    pid_t reader = fork_or_die();
    if (reader == 0) {
        close(go[1]);
        pin(rcpu);
        int fd = path[0] ? open(path, O_RDONLY) : fds[0];
        if (fd == -1)
            die("open fifo for reading");
        if (!path[0])
            close(fds[1]); /* write end unused here: EOF once the writer closes */
        unsigned char *buf = malloc((size_t)msg);
        double *times = malloc(sizeof(double) * (size_t)runs);
        if (!buf || !times)
            die("malloc");
        unsigned char *expect = malloc(2 * (size_t)msg);
        if (!expect)
            die("malloc");
        fill_pattern(expect, (size_t)msg);
        memcpy(expect + msg, expect, (size_t)msg);
        long per_run = msg * messages;
        wait_for_go(go[0]);
        double prev = now_s();
        for (long r = 0; r < runs; r++) {
            long left = per_run;
            ssize_t n = 0;
            while (left > 0) {
                n = read(fd, buf, (size_t)(left < msg ? left : msg));
                if (n == -1) {
                    if (errno == EINTR)
                        continue;
                    die("read");
                }
                if (n == 0) {
                    fprintf(stderr, "stream ended %ld bytes early\n", left);
                    _exit(1);
                }
                left -= n;
            }
            double t = now_s();
            times[r] = t - prev;
            prev = t;
            long start = (per_run - n) % msg; /* spot check the last read, as ipclab does */
            if (memcmp(buf, expect + start, (size_t)n) != 0) {
                fprintf(stderr, "content mismatch\n");
                _exit(1);
            }
        }
        if (read(fd, buf, 1) != 0) {
            fprintf(stderr, "more bytes than were sent\n");
            _exit(1);
        }
        print_times(mech, msg, times, runs);
        _exit(0);
    }
    if (fds[0] >= 0) {
        close(fds[0]);
        close(fds[1]);
    }
    close(go[0]);
    close(go[1]); /* go! */
    int bad = reap(writer, reader);
    if (path[0]) {
        unlink(path);
        rmdir(dir);
    }
    return bad;
}
