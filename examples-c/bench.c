/*
 * bench.c: the C path's pipelined throughput and round-trip latency, measured the same way
 * as the Rust path in tests/c/bench.rs (run that for the comparison).
 *
 * Throughput: FLOWAI_BENCH_MESSAGES messages (default 20000) with at most FLOWAI_BENCH_WINDOW
 * (default 1000) unacknowledged, counting message.delivered events from flowai_client_recv.
 * Round trip: FLOWAI_BENCH_ROUND_TRIPS times (default 2000) send, then wait_delivered.
 * Use an emulator without bot replies for clean figures.
 *
 *   FLOWAI_CLIENT_ID=... FLOWAI_BASE_URL=http://127.0.0.1:8080 ./bench
 */
#include <flowai.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check(flowai_result rc, const char *what) {
    if (rc != FLOWAI_OK) {
        fprintf(stderr, "%s failed: %s (%u): %s\n", what, flowai_result_str(rc), (unsigned)rc,
                flowai_last_error());
        exit(1);
    }
}

static unsigned env_unsigned(const char *name, unsigned fallback) {
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : fallback;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sends `n` messages keeping at most `window` unacknowledged; returns the seconds taken. */
static double pipelined(flowai_client *c, const flowai_message *m, unsigned n, unsigned window) {
    unsigned sent = 0, acked = 0;
    double start = now_s();
    while (acked < n) {
        while (sent < n && sent - acked < window) {
            check(flowai_client_send(c, m, NULL), "flowai_client_send");
            sent++;
        }
        flowai_event *e = NULL;
        check(flowai_client_recv(c, 10000, &e), "flowai_client_recv");
        if (flowai_event_get_kind(e) == FLOWAI_EVENT_DELIVERED) {
            acked++;
        }
        flowai_event_free(e);
    }
    return now_s() - start;
}

int main(void) {
    const char *client_id = getenv("FLOWAI_CLIENT_ID");
    const char *base_url = getenv("FLOWAI_BASE_URL");
    if (client_id == NULL || *client_id == '\0' || base_url == NULL || *base_url == '\0') {
        fprintf(stderr, "Set FLOWAI_CLIENT_ID and FLOWAI_BASE_URL (a local emulator).\n");
        return 2;
    }
    unsigned n = env_unsigned("FLOWAI_BENCH_MESSAGES", 20000);
    unsigned window = env_unsigned("FLOWAI_BENCH_WINDOW", 1000);
    unsigned trips = env_unsigned("FLOWAI_BENCH_ROUND_TRIPS", 2000);

    flowai_config *config = NULL;
    check(flowai_config_new(client_id, &config), "flowai_config_new");
    check(flowai_config_set_base_url(config, base_url), "set base url");
    check(flowai_config_set_thread_id(config, "bench"), "set thread id");
    check(flowai_config_set_max_outbox(config, window + 16), "set max outbox");
    flowai_client *c = NULL;
    check(flowai_client_connect(config, &c), "flowai_client_connect");
    flowai_config_free(config);

    flowai_message *m = flowai_message_new();
    check(flowai_message_set_speech(m, "Hi there!"), "set speech");
    check(flowai_message_set_originator_name(m, "Anonymous"), "set originator");

    pipelined(c, m, n / 10 + 1, window); /* warm-up */
    double secs = pipelined(c, m, n, window);
    printf("bench: throughput %u messages in %.3f s = %.0f msg/s\n", n, secs, n / secs);

    double *rtt = malloc(sizeof(double) * (trips ? trips : 1));
    for (unsigned i = 0; i < trips; i++) {
        uint64_t trace = 0;
        double t0 = now_s();
        check(flowai_client_send(c, m, &trace), "flowai_client_send");
        check(flowai_client_wait_delivered(c, trace, 10000), "flowai_client_wait_delivered");
        rtt[i] = (now_s() - t0) * 1e6;
        /* Keep the event queue short: take the acknowledgement event too. */
        flowai_event *e = NULL;
        if (flowai_client_recv(c, 0, &e) == FLOWAI_OK) {
            flowai_event_free(e);
        }
    }
    if (trips > 0) {
        qsort(rtt, trips, sizeof(double), cmp_double);
        printf("bench: round trip p50 %.1f us, p99 %.1f us over %u\n", rtt[trips / 2],
               rtt[(trips * 99) / 100], trips);
    }
    free(rtt);
    flowai_message_free(m);
    check(flowai_client_close(c), "flowai_client_close");
    flowai_client_free(c);
    return 0;
}
