/*
 * A DTLS 1.2 echo client in C on OpenSSL: the bound no script can beat, for
 * `godot-dtls bench --anchor-check` (built there with `cc -O2 ... -lssl -lcrypto`).
 *
 *   dtls_echo_client HOST PORT HOSTNAME CA_FILE SIZES SERIAL PIPELINED WINDOW WAIT
 *
 * SIZES is a comma list (64,1200); SERIAL and PIPELINED are packet counts per size; WAIT is
 * "block" (poll(2) when nothing is readable, as the Python clients) or "spin". One
 * connection over a connected UDP socket (OpenSSL's datagram BIO), the benchmark's cipher
 * list, the server's chain checked against CA_FILE and its name against HOSTNAME. Per
 * size: 200 packets of warm-up, then SERIAL packets one at a time and PIPELINED packets
 * with WINDOW in flight; every echo is compared with what was sent.
 *
 * Output, one line: RESULT {"handshake_ms": ..., "serial": {"64": {"packets", "elapsed_us",
 * "cpu_us", "mismatches"}, ...}, "pipelined": {...}}. Exit code 0, 1 on a failed run,
 * 3 on a setup error.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_PACKET 16384
#define WARMUP 200
#define ECHO_LIMIT_MS 2000

static const char *CIPHERS =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static int g_fd = -1;
static int g_block = 1;

static double now_us(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int wait_readable(int timeout_ms) {
    struct pollfd pfd = {g_fd, POLLIN, 0};
    return poll(&pfd, 1, timeout_ms);
}

static int fail(const char *what) {
    fprintf(stderr, "dtls_echo_client: %s\n", what);
    ERR_print_errors_fp(stderr);
    printf("RESULT {\"error\": \"%s\", \"exit_code\": 3}\n", what);
    return 3;
}

/* One echo read: 1 (a packet of `size` bytes in `buffer`), 0 (nothing now), -1 (error). */
static int read_one(SSL *ssl, unsigned char *buffer, int *size) {
    int n = SSL_read(ssl, buffer, MAX_PACKET);
    if (n > 0) {
        *size = n;
        return 1;
    }
    int err = SSL_get_error(ssl, n);
    return err == SSL_ERROR_WANT_READ ? 0 : -1;
}

typedef struct {
    long packets;
    long mismatches;
    double elapsed_us;
    double cpu_us;
} Run;

static int serial(SSL *ssl, const unsigned char *packet, int size, long count, Run *run) {
    unsigned char echo[MAX_PACKET];
    double start = now_us(CLOCK_MONOTONIC), cpu = now_us(CLOCK_PROCESS_CPUTIME_ID);
    memset(run, 0, sizeof(*run));
    for (long i = 0; i < count; i++) {
        if (SSL_write(ssl, packet, size) != size) return -1;
        int got = 0, length = 0;
        double limit = now_us(CLOCK_MONOTONIC) + ECHO_LIMIT_MS * 1000.0;
        while ((got = read_one(ssl, echo, &length)) == 0) {
            if (now_us(CLOCK_MONOTONIC) > limit) return -1;
            if (g_block) wait_readable(ECHO_LIMIT_MS);
        }
        if (got < 0) return -1;
        run->packets++;
        if (length != size || memcmp(echo, packet, size) != 0) run->mismatches++;
    }
    run->elapsed_us = now_us(CLOCK_MONOTONIC) - start;
    run->cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    return 0;
}

static int pipelined(SSL *ssl, const unsigned char *packet, int size, long count, int window,
                     Run *run) {
    unsigned char echo[MAX_PACKET];
    long sent = 0;
    double start = now_us(CLOCK_MONOTONIC), cpu = now_us(CLOCK_PROCESS_CPUTIME_ID);
    double last = start;
    memset(run, 0, sizeof(*run));
    while (run->packets < count) {
        while (sent < count && sent - run->packets < window) {
            if (SSL_write(ssl, packet, size) != size) return -1;
            sent++;
        }
        int got, length = 0, any = 0;
        while ((got = read_one(ssl, echo, &length)) == 1) {
            run->packets++;
            any = 1;
            if (length != size || memcmp(echo, packet, size) != 0) run->mismatches++;
        }
        if (got < 0) return -1;
        double now = now_us(CLOCK_MONOTONIC);
        if (any) {
            last = now;
        } else {
            if (now - last > ECHO_LIMIT_MS * 1000.0) return -1;
            if (g_block) wait_readable(ECHO_LIMIT_MS);
        }
    }
    run->elapsed_us = now_us(CLOCK_MONOTONIC) - start;
    run->cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    return 0;
}

static void print_run(const char *size, const Run *run, int last) {
    printf("\"%s\": {\"packets\": %ld, \"elapsed_us\": %.1f, \"cpu_us\": %.1f, "
           "\"mismatches\": %ld}%s",
           size, run->packets, run->elapsed_us, run->cpu_us, run->mismatches, last ? "" : ", ");
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: %s HOST PORT HOSTNAME CA SIZES SERIAL PIPELINED WINDOW "
                        "block|spin\n", argv[0]);
        return 3;
    }
    const char *host = argv[1], *hostname = argv[3], *ca = argv[4];
    int port = atoi(argv[2]), window = atoi(argv[8]);
    long serial_count = atol(argv[6]), pipelined_count = atol(argv[7]);
    g_block = strcmp(argv[9], "spin") != 0;

    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) return fail("bad host");
    g_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (g_fd < 0 || connect(g_fd, (struct sockaddr *)&address, sizeof(address)) != 0)
        return fail("cannot connect the UDP socket");
    fcntl(g_fd, F_SETFL, fcntl(g_fd, F_GETFL) | O_NONBLOCK);

    SSL_CTX *context = SSL_CTX_new(DTLS_client_method());
    if (context == NULL) return fail("SSL_CTX_new");
    if (!SSL_CTX_set_min_proto_version(context, DTLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(context, DTLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(context, CIPHERS) ||
        SSL_CTX_load_verify_locations(context, ca, NULL) != 1)
        return fail("cannot configure the context");
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_options(context, SSL_OP_NO_TICKET);

    SSL *ssl = SSL_new(context);
    BIO *bio = BIO_new_dgram(g_fd, BIO_NOCLOSE);
    if (ssl == NULL || bio == NULL) return fail("SSL_new");
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &address);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_tlsext_host_name(ssl, hostname);
    if (SSL_set1_host(ssl, hostname) != 1) return fail("SSL_set1_host");

    double start = now_us(CLOCK_MONOTONIC);
    for (;;) {
        int result = SSL_connect(ssl);
        if (result == 1) break;
        int err = SSL_get_error(ssl, result);
        if (err != SSL_ERROR_WANT_READ) return fail("handshake failed");
        if (now_us(CLOCK_MONOTONIC) - start > 10e6) return fail("handshake timed out");
        struct timeval timeout;
        int ms = DTLSv1_get_timeout(ssl, &timeout) ? (int)(timeout.tv_sec * 1000 +
                                                           timeout.tv_usec / 1000) : 100;
        if (wait_readable(ms) == 0) DTLSv1_handle_timeout(ssl);
    }
    double handshake_ms = (now_us(CLOCK_MONOTONIC) - start) / 1000.0;

    char sizes[256];
    snprintf(sizes, sizeof(sizes), "%s", argv[5]);
    char *names[16];
    Run serial_runs[16], pipelined_runs[16];
    int count = 0, failed = 0;
    for (char *item = strtok(sizes, ","); item != NULL && count < 16; item = strtok(NULL, ",")) {
        int size = atoi(item);
        if (size < 1 || size > MAX_PACKET) return fail("bad size");
        unsigned char packet[MAX_PACKET];
        for (int j = 0; j < size; j++) packet[j] = (unsigned char)(j % 251);
        Run warmup;
        names[count] = item;
        if (serial(ssl, packet, size, WARMUP, &warmup) != 0 ||
            serial(ssl, packet, size, serial_count, &serial_runs[count]) != 0 ||
            pipelined(ssl, packet, size, WARMUP, window, &warmup) != 0 ||
            pipelined(ssl, packet, size, pipelined_count, window, &pipelined_runs[count]) != 0)
            failed = 1;
        if (serial_runs[count].mismatches || pipelined_runs[count].mismatches) failed = 1;
        count++;
        if (failed) break;
    }
    printf("RESULT {\"handshake_ms\": %.3f, \"wait\": \"%s\", \"cipher\": \"%s\", "
           "\"openssl\": \"%s\", \"serial\": {",
           handshake_ms, g_block ? "block" : "spin", SSL_get_cipher_name(ssl),
           OpenSSL_version(OPENSSL_VERSION));
    for (int i = 0; i < count; i++) print_run(names[i], &serial_runs[i], i == count - 1);
    printf("}, \"pipelined\": {");
    for (int i = 0; i < count; i++) print_run(names[i], &pipelined_runs[i], i == count - 1);
    printf("}, \"exit_code\": %d}\n", failed);
    fflush(stdout);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    SSL_CTX_free(context);
    close(g_fd);
    return failed;
}
