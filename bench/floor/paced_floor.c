/*
 * The least CPU one fan-out delivery can cost on this machine when items
 * arrive at a fixed rate, as in ppbench's fanout_rate mode: one thread
 * writes a 40-byte chunk to each of N loopback TCP connections, then sleeps
 * until the next round (ROUND_MS), M rounds; another thread reads the other
 * ends through epoll. Prints the writer's CPU time per write.
 *
 *   cc -O2 -pthread -o /tmp/paced_floor bench/floor/paced_floor.c
 *   /tmp/paced_floor 1000 50 100      # N connections, M rounds, ROUND_MS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int conns, rounds, epfd;
static long want_bytes;
static volatile long got_bytes;

static double cpu_of_this_thread(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *drain(void *unused) {
    (void)unused;
    struct epoll_event events[128];
    char buf[16384];
    while (got_bytes < want_bytes) {
        int n = epoll_wait(epfd, events, 128, 1000);
        for (int i = 0; i < n; i++) {
            ssize_t r;
            while ((r = read(events[i].data.fd, buf, sizeof buf)) > 0)
                got_bytes += r;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    conns = argc > 1 ? atoi(argv[1]) : 1000;
    rounds = argc > 2 ? atoi(argv[2]) : 50;
    int round_ms = argc > 3 ? atoi(argv[3]) : 100;
    int *out = calloc(conns, sizeof *out);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int lsn = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(lsn, (struct sockaddr *)&addr, len) || listen(lsn, 1024) ||
        getsockname(lsn, (struct sockaddr *)&addr, &len)) {
        perror("listen");
        return 1;
    }
    epfd = epoll_create1(0);
    for (int i = 0; i < conns; i++) {
        int in = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(in, (struct sockaddr *)&addr, sizeof addr)) {
            perror("connect");
            return 1;
        }
        out[i] = accept(lsn, NULL, NULL);
        int on = 1;
        setsockopt(out[i], IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        fcntl(in, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = in};
        epoll_ctl(epfd, EPOLL_CTL_ADD, in, &ev);
    }
    const char chunk[40] = "0123456789012345678901234567890123456\r\n";
    want_bytes = (long)conns * rounds * 40;
    pthread_t reader;
    pthread_create(&reader, NULL, drain, NULL);
    double cpu = 0;
    for (int r = 0; r < rounds; r++) {
        double before = cpu_of_this_thread();
        for (int i = 0; i < conns; i++)
            if (write(out[i], chunk, 40) != 40) {
                perror("write");
                return 1;
            }
        cpu += cpu_of_this_thread() - before;
        usleep(round_ms * 1000);
    }
    pthread_join(reader, NULL);
    printf("{\"connections\":%d,\"rounds\":%d,\"round_ms\":%d,\"writer_cpu_us_per_write\":%.2f}\n",
           conns, rounds, round_ms, cpu / ((double)conns * rounds) * 1e6);
    return 0;
}
