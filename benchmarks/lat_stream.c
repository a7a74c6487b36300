/*
 * lat_stream - round-trip time through two pipes, two FIFOs or a Unix socket pair.
 *
 *   lat_stream pipe|fifo|unix MESSAGE_BYTES ROUND_TRIPS RUNS CLIENT_CPU SERVER_CPU
 *
 * As lmbench's lat_pipe: the client writes a message and reads the echo, ROUND_TRIPS times
 * per run; prints the mean round trip of every run in seconds (the first is a warm-up).
 */
#include "common.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s pipe|fifo|unix MESSAGE_BYTES ROUND_TRIPS RUNS CLIENT_CPU SERVER_CPU\n", argv[0]);
        return 2;
    }
    const char *mech = argv[1];
    long msg = parse_long(argv[2], "MESSAGE_BYTES", 1, 1L << 24);
    long trips = parse_long(argv[3], "ROUND_TRIPS", 1, 10000000);
    long runs = parse_long(argv[4], "RUNS", 1, 1000);
    int ccpu = (int)parse_long(argv[5], "CLIENT_CPU", -1, 4095);
    int scpu = (int)parse_long(argv[6], "SERVER_CPU", -1, 4095);

    int there[2] = {-1, -1}, back[2] = {-1, -1}; /* [read end, write end] */
    char dir[4096], req[4200] = "", rep[4200] = "";
    if (strcmp(mech, "pipe") == 0) {
        if (pipe(there) == -1 || pipe(back) == -1)
            die("pipe");
    } else if (strcmp(mech, "unix") == 0) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
            die("socketpair");
        there[1] = back[0] = sv[0]; /* the client's socket */
        there[0] = back[1] = sv[1]; /* the server's */
    } else if (strcmp(mech, "fifo") == 0) {
        private_dir_template(dir, sizeof dir);
        if (!mkdtemp(dir))
            die("mkdtemp");
        snprintf(req, sizeof req, "%s/request.fifo", dir);
        snprintf(rep, sizeof rep, "%s/reply.fifo", dir);
        if (mkfifo(req, 0600) == -1 || mkfifo(rep, 0600) == -1)
            die("mkfifo");
    } else {
        fprintf(stderr, "mechanism must be pipe, fifo or unix, got '%s'\n", mech);
        return 2;
    }
    int go[2];
    if (pipe(go) == -1)
        die("pipe");
    int is_fifo = req[0] != 0;

    pid_t client = fork_or_die();
    if (client == 0) {
        close(go[1]);
        pin(ccpu);
        int out = is_fifo ? open(req, O_WRONLY) : there[1]; /* same order as the server */
        int in = is_fifo ? open(rep, O_RDONLY) : back[0];
        if (out == -1 || in == -1)
            die("open fifo");
        unsigned char *buf = malloc((size_t)msg);
        double *times = malloc(sizeof(double) * (size_t)runs);
        if (!buf || !times)
            die("malloc");
        fill_pattern(buf, (size_t)msg);
        wait_for_go(go[0]);
        for (long r = 0; r < runs; r++) {
            double t0 = now_s();
            for (long i = 0; i < trips; i++) {
                write_all(out, buf, (size_t)msg);
                read_exactly(in, buf, (size_t)msg);
            }
            times[r] = (now_s() - t0) / (double)trips;
        }
        print_times(mech, msg, times, runs);
        _exit(0);
    }
    pid_t server = fork_or_die();
    if (server == 0) {
        close(go[1]);
        pin(scpu);
        int in = is_fifo ? open(req, O_RDONLY) : there[0];
        int out = is_fifo ? open(rep, O_WRONLY) : back[1];
        if (out == -1 || in == -1)
            die("open fifo");
        unsigned char *buf = malloc((size_t)msg);
        if (!buf)
            die("malloc");
        wait_for_go(go[0]);
        for (long i = 0; i < trips * runs; i++) {
            read_exactly(in, buf, (size_t)msg);
            write_all(out, buf, (size_t)msg); /* the echo */
        }
        _exit(0);
    }
    close(go[0]);
    close(go[1]);
    int bad = reap(client, server);
    if (is_fifo) {
        unlink(req);
        unlink(rep);
        rmdir(dir);
    }
    return bad;
}
