/*
 * events.c: the callback API. A callback counts deliveries and replies on the library's
 * dispatcher thread while two threads of this program send messages on the same client at
 * the same time.
 *
 *   FLOWAI_CLIENT_ID=...  [FLOWAI_BASE_URL=https://sdk.flow.ai]  [FLOWAI_MESSAGES=10]  ./events
 */
#include <flowai.h>

#include <pthread.h>
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

/* What the callback sees; user_data points here. */
struct tally {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned delivered;
    unsigned replies;
    unsigned others;
    char last_reply[256];
};

/* Runs on the client's dispatcher thread, once per event, one at a time. */
static void on_event(void *user_data, const flowai_event *event) {
    struct tally *t = user_data;
    pthread_mutex_lock(&t->lock);
    switch (flowai_event_get_kind(event)) {
    case FLOWAI_EVENT_DELIVERED:
    case FLOWAI_EVENT_ACTIVITIES_DELIVERED:
        t->delivered++;
        break;
    case FLOWAI_EVENT_REPLY:
    case FLOWAI_EVENT_ACTIVITIES_CREATED:
        t->replies++;
        snprintf(t->last_reply, sizeof t->last_reply, "%s", flowai_event_text(event));
        break;
    default:
        t->others++;
        break;
    }
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
}

struct sender {
    flowai_client *client;
    int id;
    unsigned count;
};

/* Each sending thread builds its own message; the client is shared. */
static void *send_messages(void *arg) {
    struct sender *s = arg;
    for (unsigned i = 0; i < s->count; i++) {
        char speech[64];
        snprintf(speech, sizeof speech, "hello %u from thread %d", i, s->id);
        flowai_message *m = flowai_message_new();
        check(flowai_message_set_speech(m, speech), "set speech");
        check(flowai_message_set_originator_name(m, "Jane Doe"), "set originator");
        check(flowai_client_send(s->client, m, NULL), "flowai_client_send");
        flowai_message_free(m);
    }
    return NULL;
}

int main(void) {
    const char *client_id = getenv("FLOWAI_CLIENT_ID");
    const char *base_url = getenv("FLOWAI_BASE_URL");
    const char *n = getenv("FLOWAI_MESSAGES");
    unsigned per_thread = n ? (unsigned)strtoul(n, NULL, 10) : 10;
    if (client_id == NULL || client_id[0] == '\0') {
        fprintf(stderr, "Set FLOWAI_CLIENT_ID (and FLOWAI_BASE_URL for a local emulator).\n");
        return 2;
    }

    flowai_config *config = NULL;
    check(flowai_config_new(client_id, &config), "flowai_config_new");
    check(flowai_config_set_base_url(config, base_url && *base_url ? base_url
                                                                   : "https://sdk.flow.ai"),
          "set base url");
    check(flowai_config_set_thread_id(config, "jane.doe"), "set thread id");
    flowai_client *client = NULL;
    check(flowai_client_connect(config, &client), "flowai_client_connect");
    flowai_config_free(config);

    struct tally tally;
    memset(&tally, 0, sizeof tally);
    pthread_mutex_init(&tally.lock, NULL);
    pthread_cond_init(&tally.changed, NULL);
    check(flowai_client_set_callback(client, on_event, &tally), "flowai_client_set_callback");

    pthread_t threads[2];
    struct sender senders[2] = {{client, 1, per_thread}, {client, 2, per_thread}};
    for (int i = 0; i < 2; i++) {
        pthread_create(&threads[i], NULL, send_messages, &senders[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
    }

    /* Wait (at most 15 s) until every message is delivered and answered. */
    unsigned want = 2 * per_thread;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 15;
    pthread_mutex_lock(&tally.lock);
    while (tally.delivered < want || tally.replies < want) {
        if (pthread_cond_timedwait(&tally.changed, &tally.lock, &deadline) != 0) {
            break;
        }
    }
    unsigned delivered = tally.delivered, replies = tally.replies;
    pthread_mutex_unlock(&tally.lock);

    /* Unregister: once this returns, on_event is never called again. */
    check(flowai_client_set_callback(client, NULL, NULL), "unregister callback");
    printf("Sent %u messages from 2 threads: %u delivered, %u replies, %u other events\n", want,
           delivered, replies, tally.others);
    printf("Last reply: %s\n", tally.last_reply);

    check(flowai_client_close(client), "flowai_client_close");
    flowai_client_free(client);
    pthread_cond_destroy(&tally.changed);
    pthread_mutex_destroy(&tally.lock);
    if (delivered != want || replies != want) {
        fprintf(stderr, "missing events\n");
        return 1;
    }
    printf("Closed.\n");
    return 0;
}
