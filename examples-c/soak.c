/*
 * soak.c: resource stability of the C path. Repeats, in one process: connect, send
 * FLOWAI_SOAK_MESSAGES messages (default 1000), receive their acknowledgements and replies, close,
 * free; FLOWAI_SOAK_ROUNDS times (default 100). Prints RSS (after malloc_trim on glibc; the
 * raw figure too), heap in use and thread count after the first and the last round, and fails
 * when the last round's RSS differs from the first's by more than FLOWAI_SOAK_MAX_GROWTH_KIB
 * (default 1024: the ±1 MiB target) or the thread count differs.
 * FLOWAI_SOAK_VERBOSE=1 prints both after every round; FLOWAI_SOAK_REPLIES=0 for a server that
 * sends no bot replies (each round then waits only for the acknowledgements).
 *
 *   FLOWAI_CLIENT_ID=... FLOWAI_BASE_URL=http://127.0.0.1:8080 ./soak
 */
#include <flowai.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static void check(flowai_result rc, const char *what) {
    if (rc != FLOWAI_OK) {
        fprintf(stderr, "%s failed: %s (%u): %s\n", what, flowai_result_str(rc), (unsigned)rc,
                flowai_last_error());
        exit(1);
    }
}

/* A field of /proc/self/status ("VmRSS" in KiB, "Threads"). */
static long status_field(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long value = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            value = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return value;
}

/* RSS after handing the allocator's free memory back to the OS: glibc keeps freed heap
 * pages of the client's threads mapped, which makes the raw RSS swing by megabytes from
 * one round to the next without any trend. */
static long trimmed_rss(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    return status_field("VmRSS");
}

/* Bytes of heap in use (all malloc arenas), or -1 where unknown. */
static long heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return (long)mi.uordblks;
#else
    return -1;
#endif
}

static unsigned env_unsigned(const char *name, unsigned fallback) {
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : fallback;
}

static void one_round(const char *client_id, const char *base_url, const flowai_message *m,
                      unsigned messages, unsigned expect_replies) {
    flowai_config *config = NULL;
    check(flowai_config_new(client_id, &config), "flowai_config_new");
    check(flowai_config_set_base_url(config, base_url), "set base url");
    check(flowai_config_set_thread_id(config, "soak"), "set thread id");
    flowai_client *client = NULL;
    check(flowai_client_connect(config, &client), "flowai_client_connect");
    flowai_config_free(config);
    for (unsigned i = 0; i < messages; i++) {
        check(flowai_client_send(client, m, NULL), "flowai_client_send");
    }
    /* Take every acknowledgement and (when the server answers) every reply. */
    unsigned delivered = 0, replies = 0;
    while (delivered < messages || (expect_replies && replies < messages)) {
        flowai_event *event = NULL;
        check(flowai_client_recv(client, 10000, &event), "flowai_client_recv");
        flowai_event_kind kind = flowai_event_get_kind(event);
        delivered += kind == FLOWAI_EVENT_DELIVERED;
        replies += kind == FLOWAI_EVENT_REPLY;
        flowai_event_free(event);
    }
    check(flowai_client_close(client), "flowai_client_close");
    flowai_client_free(client);
}

int main(void) {
    const char *client_id = getenv("FLOWAI_CLIENT_ID");
    const char *base_url = getenv("FLOWAI_BASE_URL");
    if (client_id == NULL || *client_id == '\0' || base_url == NULL || *base_url == '\0') {
        fprintf(stderr, "Set FLOWAI_CLIENT_ID and FLOWAI_BASE_URL (a local emulator).\n");
        return 2;
    }
    unsigned rounds = env_unsigned("FLOWAI_SOAK_ROUNDS", 100);
    unsigned messages = env_unsigned("FLOWAI_SOAK_MESSAGES", 1000);
    long max_growth = (long)env_unsigned("FLOWAI_SOAK_MAX_GROWTH_KIB", 1024);
    unsigned verbose = env_unsigned("FLOWAI_SOAK_VERBOSE", 0);
    unsigned expect_replies = env_unsigned("FLOWAI_SOAK_REPLIES", 1);

    flowai_message *m = flowai_message_new();
    check(flowai_message_set_speech(m, "soak"), "set speech");
    check(flowai_message_set_originator_name(m, "Jane Doe"), "set originator");

    long rss_first = 0, raw_first = 0, heap_first = 0, threads_first = 0;
    for (unsigned r = 1; r <= rounds; r++) {
        one_round(client_id, base_url, m, messages, expect_replies);
        if (r == 1) {
            raw_first = status_field("VmRSS");
            rss_first = trimmed_rss();
            heap_first = heap_in_use();
            threads_first = status_field("Threads");
        }
        if (verbose) {
            long raw = status_field("VmRSS");
            printf("round %u: RSS %ld KiB (raw %ld KiB), heap in use %ld B, threads %ld\n", r,
                   trimmed_rss(), raw, heap_in_use(), status_field("Threads"));
        }
    }
    long raw_last = status_field("VmRSS");
    long rss_last = trimmed_rss();
    long heap_last = heap_in_use();
    long threads_last = status_field("Threads");
    flowai_message_free(m);

    printf("soak: %u rounds of %u messages: RSS %ld KiB after round 1, %ld KiB after round %u "
           "(%+ld KiB; raw %ld -> %ld KiB); heap in use %ld -> %ld B; threads %ld -> %ld\n",
           rounds, messages, rss_first, rss_last, rounds, rss_last - rss_first, raw_first,
           raw_last, heap_first, heap_last, threads_first, threads_last);
    if (labs(rss_last - rss_first) > max_growth || threads_last != threads_first) {
        fprintf(stderr, "soak: RSS or thread count changed\n");
        return 1;
    }
    return 0;
}
