/*
 * close_in_callback.c: flowai_client_close is prompt from any thread, including from inside
 * the event callback, and wakes every call blocked on the client with FLOWAI_CLOSED.
 * Run by tests/c/close_in_callback.rs against an emulator that holds acknowledgements back
 * (so a wait for delivery blocks for as long as its timeout), with FLOWAI_BASE_URL set.
 *
 *   1. The callback blocks in flowai_client_wait_delivered(..., UINT32_MAX); another thread
 *      closes the client: close returns at once and the wait returns FLOWAI_CLOSED.
 *   2. The callback closes its own client while the main thread is blocked in
 *      flowai_client_wait_delivered(..., UINT32_MAX): both return at once.
 *
 * Prints one line per scenario with the close time in ms ("... close took 1.234 ms") and
 * exits 0 when every check passed, 1 otherwise.
 */
#include <flowai.h>

#include "expect.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct scenario {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    flowai_client *client;
    int started;        /* the callback took its first event */
    int done;           /* the callback returned from its blocking call */
    flowai_result rc;   /* what that call returned */
    double call_ms;     /* how long that call took */
};

static void set_flag(struct scenario *s, int *flag) {
    pthread_mutex_lock(&s->lock);
    *flag = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

/* Waits up to 10 s for a flag; 1 when it was set. */
static int wait_flag(struct scenario *s, int *flag) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&s->lock);
    while (!*flag) {
        if (pthread_cond_timedwait(&s->changed, &s->lock, &until) != 0) {
            break;
        }
    }
    int set = *flag;
    pthread_mutex_unlock(&s->lock);
    return set;
}

static const char *code_name(flowai_result rc) {
    return rc == FLOWAI_CLOSED ? "FLOWAI_CLOSED" : flowai_result_str(rc);
}

static uint64_t send_one(flowai_client *c, const char *speech) {
    flowai_message *m = flowai_message_new();
    flowai_message_set_speech(m, speech);
    uint64_t trace = 0;
    EXPECT(flowai_client_send(c, m, &trace) == FLOWAI_OK);
    flowai_message_free(m);
    return trace;
}

/* Scenario 1: on its first event the callback waits for an acknowledgement that is held. */
static void on_event_wait(void *user_data, const flowai_event *event) {
    struct scenario *s = user_data;
    (void)event;
    if (s->started) {
        return;
    }
    uint64_t trace = send_one(s->client, "held");
    set_flag(s, &s->started);
    double t0 = now_ms();
    s->rc = flowai_client_wait_delivered(s->client, trace, UINT32_MAX);
    s->call_ms = now_ms() - t0;
    set_flag(s, &s->done);
}

/* Scenario 2: on its first event the callback closes its own client. */
static void on_event_close(void *user_data, const flowai_event *event) {
    struct scenario *s = user_data;
    (void)event;
    if (s->started) {
        return;
    }
    set_flag(s, &s->started);
    double t0 = now_ms();
    s->rc = flowai_client_close(s->client);
    s->call_ms = now_ms() - t0;
    set_flag(s, &s->done);
}

static flowai_client *connect_client(const char *base_url) {
    flowai_config *cfg = NULL;
    flowai_client *c = NULL;
    EXPECT(flowai_config_new("close-in-callback", &cfg) == FLOWAI_OK);
    EXPECT(flowai_config_set_base_url(cfg, base_url) == FLOWAI_OK);
    EXPECT(flowai_config_set_thread_id(cfg, "close.thread") == FLOWAI_OK);
    EXPECT(flowai_client_connect(cfg, &c) == FLOWAI_OK);
    flowai_config_free(cfg);
    return c;
}

static void init(struct scenario *s, flowai_client *c) {
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->client = c;
    s->started = s->done = 0;
    s->rc = FLOWAI_OK;
    s->call_ms = -1;
}

static void finish(struct scenario *s) {
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->changed);
}

static void closed_from_another_thread(const char *base_url) {
    struct scenario s;
    flowai_client *c = connect_client(base_url);
    if (c == NULL) {
        return;
    }
    init(&s, c);
    EXPECT(flowai_client_set_callback(c, on_event_wait, &s) == FLOWAI_OK);
    EXPECT(wait_flag(&s, &s.started));
    struct timespec settle = {0, 100 * 1000 * 1000}; /* let the callback enter its wait */
    nanosleep(&settle, NULL);
    double t0 = now_ms();
    flowai_result rc = flowai_client_close(c);
    double close_ms = now_ms() - t0;
    EXPECT(rc == FLOWAI_OK);
    EXPECT(wait_flag(&s, &s.done));
    EXPECT(s.rc == FLOWAI_CLOSED);
    printf("close_in_callback: from another thread: close took %.3f ms; the callback's wait "
           "returned %s after %.3f ms\n",
           close_ms, code_name(s.rc), s.call_ms);
    flowai_client_free(c);
    finish(&s);
}

struct waiter {
    flowai_client *client;
    uint64_t trace;
    flowai_result rc;
};

static void *wait_in_thread(void *arg) {
    struct waiter *w = arg;
    w->rc = flowai_client_wait_delivered(w->client, w->trace, UINT32_MAX);
    return NULL;
}

static void closed_from_inside_the_callback(const char *base_url) {
    struct scenario s;
    flowai_client *c = connect_client(base_url);
    if (c == NULL) {
        return;
    }
    init(&s, c);
    struct waiter w = {c, send_one(c, "held too"), FLOWAI_OK};
    pthread_t blocked;
    pthread_create(&blocked, NULL, wait_in_thread, &w);
    struct timespec settle = {0, 100 * 1000 * 1000}; /* let the thread enter its wait */
    nanosleep(&settle, NULL);
    /* The callback starts with the queued FLOWAI_EVENT_CONNECTED and closes at once. */
    EXPECT(flowai_client_set_callback(c, on_event_close, &s) == FLOWAI_OK);
    EXPECT(wait_flag(&s, &s.done));
    EXPECT(s.rc == FLOWAI_OK);
    double t0 = now_ms();
    pthread_join(blocked, NULL);
    double join_ms = now_ms() - t0;
    EXPECT(w.rc == FLOWAI_CLOSED);
    EXPECT(flowai_client_close(c) == FLOWAI_OK); /* idempotent */
    printf("close_in_callback: from inside the callback: close took %.3f ms; the other "
           "thread's wait returned %s (joined %.3f ms after)\n",
           s.call_ms, code_name(w.rc), join_ms);
    flowai_client_free(c);
    finish(&s);
}

int main(void) {
    const char *base_url = getenv("FLOWAI_BASE_URL");
    if (base_url == NULL || *base_url == 0) {
        fprintf(stderr, "close_in_callback: set FLOWAI_BASE_URL\n");
        return 2;
    }
    closed_from_another_thread(base_url);
    closed_from_inside_the_callback(base_url);
    if (failures) {
        fprintf(stderr, "close_in_callback: %d checks failed\n", failures);
        return 1;
    }
    printf("close_in_callback: all checks passed\n");
    return 0;
}
