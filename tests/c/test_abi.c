/*
 * test_abi.c: checks the C ABI the way a C caller meets it. Part 1 calls every exported
 * function with NULL for each pointer argument and with invalid UTF-8 and checks the result
 * codes (no server needed). Part 2, when FLOWAI_BASE_URL is set, runs the whole life of a
 * client against that server (the emulator in the tests): connect, send, wait, receive,
 * the REST calls (history, unnoticed, merge, upload, including an upload over the server's
 * 1 MiB default limit), callbacks, logging, close, use after close, free. Run under valgrind
 * by tests/c/abi.rs.
 *
 * Prints "test_abi: N checks passed" and exits 0, or names each failed check and exits 1.
 */
#include <flowai.h>

#include "expect.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bigger than the emulator's default upload limit (1 MiB): refused with HTTP 413. */
#define TOO_LARGE_BYTES (1536u * 1024u)

#define OK(call) EXPECT_CODE(call, FLOWAI_OK)
#define NUL(call) EXPECT_CODE(call, FLOWAI_NULL_ARGUMENT)
#define UTF(call) EXPECT_CODE(call, FLOWAI_INVALID_UTF8)
#define INVALID(call) EXPECT_CODE(call, FLOWAI_INVALID_ARGUMENT)

static const char BAD[] = {(char)0xff, (char)0xfe, 'x', 0}; /* not UTF-8 */

static void on_event_noop(void *user_data, const flowai_event *event) {
    (void)user_data;
    (void)event;
}

static void on_log_noop(void *user_data, uint32_t level, const char *target, const char *msg) {
    (void)user_data;
    (void)level;
    (void)target;
    (void)msg;
}

/* ---------------------------------------------------------------- part 1: bad arguments */

static void test_result_and_version(void) {
    EXPECT(strcmp(flowai_result_str(FLOWAI_OK), "ok") == 0);
    EXPECT(strcmp(flowai_result_str(FLOWAI_TIMEOUT), "timed out") == 0);
    EXPECT(strcmp(flowai_result_str(99999), "unknown flowai_result code") == 0);
    EXPECT(strcmp(flowai_result_str(FLOWAI_TOO_LARGE), "too large for the server") == 0);
    EXPECT(FLOWAI_TOO_LARGE == 18); /* appended, never renumbered */
    for (uint32_t c = 0; c <= FLOWAI_TOO_LARGE; c++) {
        EXPECT(flowai_result_str(c) != NULL && strlen(flowai_result_str(c)) > 0);
    }
    EXPECT(flowai_result_is_retryable(FLOWAI_TIMEOUT) == 1);
    EXPECT(flowai_result_is_retryable(FLOWAI_NETWORK) == 1);
    EXPECT(flowai_result_is_retryable(FLOWAI_CLOSED) == 0);
    EXPECT(flowai_result_is_retryable(FLOWAI_OK) == 0);
    EXPECT(flowai_result_is_retryable(FLOWAI_TOO_LARGE) == 0);
    EXPECT(flowai_result_is_retryable(12345) == 0);
    /* Final and retryable split every known code except FLOWAI_OK. */
    for (uint32_t c = 1; c <= FLOWAI_TOO_LARGE; c++) {
        EXPECT(flowai_result_is_final(c) + flowai_result_is_retryable(c) == 1);
    }
    EXPECT(flowai_result_is_final(FLOWAI_TLS) == 1);
    EXPECT(flowai_result_is_final(FLOWAI_REJECTED) == 1);
    EXPECT(flowai_result_is_final(FLOWAI_UNAVAILABLE) == 0);
    EXPECT(flowai_result_is_final(FLOWAI_NETWORK) == 0);
    EXPECT(flowai_result_is_final(FLOWAI_OK) == 0);
    EXPECT(flowai_result_is_final(12345) == 0);
    EXPECT(strcmp(flowai_version(), FLOWAI_VERSION) == 0);
    EXPECT(flowai_abi_version() == FLOWAI_ABI_VERSION);
    EXPECT(flowai_last_error() != NULL);
    flowai_string_free(NULL);
}

static void test_config_arguments(void) {
    flowai_config *c = NULL;
    NUL(flowai_config_new(NULL, &c));
    EXPECT(strstr(flowai_last_error(), "client_id") != NULL);
    NUL(flowai_config_new("id", NULL));
    UTF(flowai_config_new(BAD, &c));
    EXPECT(c == NULL); /* outputs are written only on success */
    OK(flowai_config_new("id", &c));
    EXPECT(c != NULL);

    NUL(flowai_config_set_base_url(NULL, "http://x"));
    NUL(flowai_config_set_base_url(c, NULL));
    UTF(flowai_config_set_base_url(c, BAD));
    OK(flowai_config_set_base_url(c, "http://127.0.0.1:1/"));
    NUL(flowai_config_set_thread_id(NULL, "t"));
    NUL(flowai_config_set_thread_id(c, NULL));
    UTF(flowai_config_set_thread_id(c, BAD));
    OK(flowai_config_set_thread_id(c, "t"));
    NUL(flowai_config_set_session_id(NULL, "s"));
    NUL(flowai_config_set_session_id(c, NULL));
    UTF(flowai_config_set_session_id(c, BAD));
    OK(flowai_config_set_session_id(c, "s"));
    NUL(flowai_config_set_origin(NULL, "o"));
    NUL(flowai_config_set_origin(c, NULL));
    UTF(flowai_config_set_origin(c, BAD));
    OK(flowai_config_set_origin(c, "https://example.com"));
    NUL(flowai_config_set_ott(NULL, "t"));
    NUL(flowai_config_set_ott(c, NULL));
    UTF(flowai_config_set_ott(c, BAD));
    OK(flowai_config_set_ott(c, "one-time-token"));
    NUL(flowai_config_set_secret(NULL, "s"));
    NUL(flowai_config_set_secret(c, NULL));
    UTF(flowai_config_set_secret(c, BAD));
    OK(flowai_config_set_secret(c, "secret"));
    NUL(flowai_config_set_keepalive_ms(NULL, 1000));
    OK(flowai_config_set_keepalive_ms(c, 0));
    NUL(flowai_config_set_pong_timeout_ms(NULL, 1000));
    OK(flowai_config_set_pong_timeout_ms(c, 1000));
    NUL(flowai_config_set_connect_timeout_ms(NULL, 1000));
    OK(flowai_config_set_connect_timeout_ms(c, 1000));
    NUL(flowai_config_set_io_timeout_ms(NULL, 1000));
    OK(flowai_config_set_io_timeout_ms(c, 1000));
    NUL(flowai_config_add_root_certificate_pem(NULL, "pem"));
    NUL(flowai_config_add_root_certificate_pem(c, NULL));
    UTF(flowai_config_add_root_certificate_pem(c, BAD));
    NUL(flowai_config_set_max_message_size(NULL, 4096));
    OK(flowai_config_set_max_message_size(c, 4096));
    NUL(flowai_config_set_reconnect(NULL, 1));
    INVALID(flowai_config_set_reconnect(c, 2));
    INVALID(flowai_config_set_reconnect(c, -1));
    OK(flowai_config_set_reconnect(c, 0));
    NUL(flowai_config_set_pong_events(NULL, 1));
    INVALID(flowai_config_set_pong_events(c, 2));
    OK(flowai_config_set_pong_events(c, 0));
    NUL(flowai_config_set_outbox(NULL, 1));
    INVALID(flowai_config_set_outbox(c, 7));
    OK(flowai_config_set_outbox(c, 1));
    NUL(flowai_config_set_max_outbox(NULL, 10));
    OK(flowai_config_set_max_outbox(c, 10));
    NUL(flowai_config_set_max_queued_events(NULL, 10));
    OK(flowai_config_set_max_queued_events(c, 10));
    NUL(flowai_config_set_max_queued_bytes(NULL, 1u << 20));
    OK(flowai_config_set_max_queued_bytes(c, 1u << 20));
    NUL(flowai_config_set_backoff(NULL, 1, 2, 3));
    OK(flowai_config_set_backoff(c, 10, 20, 3));
    NUL(flowai_config_set_state_file(NULL, "/tmp/x"));
    NUL(flowai_config_set_state_file(c, NULL));
    UTF(flowai_config_set_state_file(c, BAD));
    NUL(flowai_config_set_session_policy(NULL, FLOWAI_SESSION_POLICY_KEEP));
    INVALID(flowai_config_set_session_policy(c, 2));
    INVALID(flowai_config_set_session_policy(c, 0xffffffffu));
    OK(flowai_config_set_session_policy(c, FLOWAI_SESSION_POLICY_RENEW));
    OK(flowai_config_set_session_policy(c, FLOWAI_SESSION_POLICY_KEEP));
    NUL(flowai_config_set_originator_name(NULL, "n"));
    NUL(flowai_config_set_originator_name(c, NULL));
    UTF(flowai_config_set_originator_name(c, BAD));
    OK(flowai_config_set_originator_name(c, "C Tester"));
    NUL(flowai_config_set_originator_role(NULL, FLOWAI_ROLE_EXTERNAL));
    INVALID(flowai_config_set_originator_role(c, 2));
    INVALID(flowai_config_set_originator_role(c, 0xffffffffu));
    OK(flowai_config_set_originator_role(c, FLOWAI_ROLE_MODERATOR));
    NUL(flowai_config_set_proxy(NULL, "http://proxy:3128"));
    NUL(flowai_config_set_proxy(c, NULL));
    UTF(flowai_config_set_proxy(c, BAD));
    OK(flowai_config_set_proxy(c, "http://user:pw@proxy:3128"));
    NUL(flowai_config_set_no_proxy(NULL));
    OK(flowai_config_set_no_proxy(c));
    NUL(flowai_config_set_allow_insecure(NULL, 1));
    INVALID(flowai_config_set_allow_insecure(c, 2));
    INVALID(flowai_config_set_allow_insecure(c, -1));
    OK(flowai_config_set_allow_insecure(c, 0));

    /* Refused before any connection: a proxy that is not http://, and http:// to another
     * machine without allow_insecure. */
    flowai_config *remote = NULL;
    OK(flowai_config_new("id", &remote));
    OK(flowai_config_set_proxy(remote, "socks5://proxy:1080"));
    flowai_client *none = NULL;
    EXPECT_CODE(flowai_client_connect(remote, &none), FLOWAI_CONFIG);
    EXPECT(strstr(flowai_last_error(), "socks5") != NULL);
    OK(flowai_config_set_no_proxy(remote));
    OK(flowai_config_set_base_url(remote, "http://192.0.2.1:9"));
    EXPECT_CODE(flowai_client_connect(remote, &none), FLOWAI_CONFIG);
    EXPECT(strstr(flowai_last_error(), "allow_insecure") != NULL);
    EXPECT(none == NULL);
    flowai_config_free(remote);

    /* An unusable config fails at connect, with FLOWAI_CONFIG and nothing written. */
    flowai_client *client = NULL;
    OK(flowai_config_set_pong_timeout_ms(c, 0));
    EXPECT_CODE(flowai_client_connect(c, &client), FLOWAI_CONFIG);
    EXPECT(client == NULL);
    NUL(flowai_client_connect(NULL, &client));
    NUL(flowai_client_connect(c, NULL));
    flowai_config_free(c);
    flowai_config_free(NULL);

    /* A byte budget smaller than one frame of the largest size is refused. */
    OK(flowai_config_new("id", &c));
    OK(flowai_config_set_max_queued_bytes(c, 1000));
    EXPECT_CODE(flowai_client_connect(c, &client), FLOWAI_CONFIG);
    EXPECT(strstr(flowai_last_error(), "queued bytes") != NULL);
    EXPECT(client == NULL);
    flowai_config_free(c);
}

static void test_message_arguments(void) {
    flowai_message *m = flowai_message_new();
    EXPECT(m != NULL);
    NUL(flowai_message_set_thread_id(NULL, "t"));
    NUL(flowai_message_set_thread_id(m, NULL));
    UTF(flowai_message_set_thread_id(m, BAD));
    NUL(flowai_message_set_trace_id(NULL, 1));
    /* Above 2^53 - 1 a JavaScript server would round it: refused. */
    INVALID(flowai_message_set_trace_id(m, 9007199254740992ull));
    EXPECT(strstr(flowai_last_error(), "2^53") != NULL);
    INVALID(flowai_message_set_trace_id(m, UINT64_MAX));
    OK(flowai_message_set_trace_id(m, 9007199254740991ull));
    OK(flowai_message_set_trace_id(m, 42));
    NUL(flowai_message_set_speech(NULL, "s"));
    NUL(flowai_message_set_speech(m, NULL));
    UTF(flowai_message_set_speech(m, BAD));
    NUL(flowai_message_set_originator_name(NULL, "n"));
    NUL(flowai_message_set_originator_name(m, NULL));
    UTF(flowai_message_set_originator_name(m, BAD));
    NUL(flowai_message_set_originator_role(NULL, FLOWAI_ROLE_EXTERNAL));
    INVALID(flowai_message_set_originator_role(m, 2));
    INVALID(flowai_message_set_originator_role(m, 0xffffffffu));
    OK(flowai_message_set_originator_role(m, FLOWAI_ROLE_MODERATOR));

    flowai_result (*profile[])(flowai_message *, const char *) = {
        flowai_message_set_profile_full_name,   flowai_message_set_profile_first_name,
        flowai_message_set_profile_last_name,   flowai_message_set_profile_gender,
        flowai_message_set_profile_locale,      flowai_message_set_profile_country,
        flowai_message_set_profile_email,       flowai_message_set_profile_picture,
        flowai_message_set_profile_description, flowai_message_set_profile_location,
    };
    for (size_t i = 0; i < sizeof profile / sizeof profile[0]; i++) {
        NUL(profile[i](NULL, "v"));
        NUL(profile[i](m, NULL));
        UTF(profile[i](m, BAD));
        OK(profile[i](m, "v"));
    }
    NUL(flowai_message_set_profile_timezone(NULL, 1));
    INVALID(flowai_message_set_profile_timezone(m, NAN));
    INVALID(flowai_message_set_profile_timezone(m, INFINITY));
    OK(flowai_message_set_profile_timezone(m, 5.5));

    NUL(flowai_message_set_originator_metadata(NULL, "k", "v"));
    NUL(flowai_message_set_originator_metadata(m, NULL, "v"));
    NUL(flowai_message_set_originator_metadata(m, "k", NULL));
    UTF(flowai_message_set_originator_metadata(m, BAD, "v"));
    UTF(flowai_message_set_originator_metadata(m, "k", BAD));
    NUL(flowai_message_set_originator_metadata_json(NULL, "k", "1"));
    NUL(flowai_message_set_originator_metadata_json(m, NULL, "1"));
    NUL(flowai_message_set_originator_metadata_json(m, "k", NULL));
    UTF(flowai_message_set_originator_metadata_json(m, BAD, "1"));
    UTF(flowai_message_set_originator_metadata_json(m, "k", BAD));
    INVALID(flowai_message_set_originator_metadata_json(m, "k", "{not json"));
    OK(flowai_message_set_originator_metadata_json(m, "k", "[1,2]"));

    NUL(flowai_message_set_language(NULL, "en"));
    NUL(flowai_message_set_language(m, NULL));
    UTF(flowai_message_set_language(m, BAD));
    NUL(flowai_message_set_timezone(NULL, 1));
    INVALID(flowai_message_set_timezone(m, NAN));
    OK(flowai_message_set_timezone(m, -6));
    NUL(flowai_message_add_param(NULL, "n", "v"));
    NUL(flowai_message_add_param(m, NULL, "v"));
    NUL(flowai_message_add_param(m, "n", NULL));
    UTF(flowai_message_add_param(m, BAD, "v"));
    UTF(flowai_message_add_param(m, "n", BAD));

    EXPECT_CODE(flowai_message_set_event_label(m, "label"), FLOWAI_INVALID_STATE);
    NUL(flowai_message_set_event(NULL, "e"));
    NUL(flowai_message_set_event(m, NULL));
    UTF(flowai_message_set_event(m, BAD));
    NUL(flowai_message_set_opening_event(NULL, "e"));
    NUL(flowai_message_set_opening_event(m, NULL));
    UTF(flowai_message_set_opening_event(m, BAD));
    NUL(flowai_message_set_event_label(NULL, "l"));
    NUL(flowai_message_set_event_label(m, NULL));
    UTF(flowai_message_set_event_label(m, BAD));
    NUL(flowai_message_set_flow(NULL, "f"));
    NUL(flowai_message_set_flow(m, NULL));
    UTF(flowai_message_set_flow(m, BAD));
    NUL(flowai_message_set_step(NULL, "s"));
    NUL(flowai_message_set_step(m, NULL));
    UTF(flowai_message_set_step(m, BAD));

    char *json = NULL;
    NUL(flowai_message_to_json(NULL, &json));
    NUL(flowai_message_to_json(m, NULL));
    flowai_message_free(m);
    flowai_message_free(NULL);
}

static void test_message_json(void) {
    flowai_message *m = flowai_message_new();
    OK(flowai_message_set_opening_event(m, "HELLO"));
    OK(flowai_message_set_event_label(m, "Say hello"));
    OK(flowai_message_set_language(m, "en-US"));
    OK(flowai_message_add_param(m, "seats", "Business class"));
    OK(flowai_message_add_param(m, "seats", "Economy"));
    char *json = NULL;
    OK(flowai_message_to_json(m, &json));
    EXPECT(json != NULL);
    if (json != NULL) {
        EXPECT(strstr(json, "\"speech\":\"event attachment\"") != NULL);
        EXPECT(strstr(json, "\"eventType\":\"OPENING\"") != NULL);
        EXPECT(strstr(json, "\"label\":\"Say hello\"") != NULL);
        EXPECT(strstr(json, "{\"seats\":[{\"value\":\"Business class\"},{\"value\":\"Economy\"}]}") !=
               NULL);
    }
    flowai_string_free(json);
    OK(flowai_message_set_flow(m, "flow-1"));
    OK(flowai_message_to_json(m, &json));
    EXPECT(json && strstr(json, "\"attachment\":{\"type\":\"flow\",\"payload\":{\"flowImmutableId\":\"flow-1\"}}"));
    flowai_string_free(json);
    OK(flowai_message_set_step(m, "step-1"));
    OK(flowai_message_to_json(m, &json));
    EXPECT(json && strstr(json, "\"stepId\":\"step-1\""));
    flowai_string_free(json);
    flowai_message_free(m);
}

static void test_client_and_event_arguments(void) {
    flowai_message *m = flowai_message_new();
    flowai_event *e = NULL;
    uint64_t trace = 0;
    NUL(flowai_client_send(NULL, m, &trace));
    NUL(flowai_client_send_json(NULL, "{}", &trace));
    NUL(flowai_client_wait_delivered(NULL, 1, 0));
    NUL(flowai_client_flush(NULL, 0));
    NUL(flowai_client_recv(NULL, 0, &e));
    NUL(flowai_client_set_callback(NULL, on_event_noop, NULL));
    NUL(flowai_client_noticed(NULL, "", 0, NULL));
    NUL(flowai_client_user_typing(NULL));
    char *text = NULL;
    int32_t flag = -1;
    NUL(flowai_client_secret(NULL, "", &text));
    NUL(flowai_client_history(NULL, "", &text));
    NUL(flowai_client_unnoticed(NULL, "", &flag));
    NUL(flowai_client_merge(NULL, "key", "", ""));
    NUL(flowai_client_upload(NULL, "/tmp/x", m, &text));
    NUL(flowai_client_upload(NULL, "/tmp/x", NULL, NULL));
    EXPECT(text == NULL && flag == -1);
    NUL(flowai_client_close(NULL));
    EXPECT(flowai_client_is_connected(NULL) == 0);
    EXPECT(flowai_client_pending(NULL) == 0);
    EXPECT(flowai_client_thread_id(NULL) == NULL);
    EXPECT(flowai_client_session_id(NULL) == NULL);
    flowai_client_free(NULL);

    EXPECT(flowai_event_get_kind(NULL) == FLOWAI_EVENT_INVALID);
    EXPECT(flowai_event_name(NULL) == NULL);
    EXPECT(flowai_event_thread_id(NULL) == NULL);
    EXPECT(flowai_event_trace_id(NULL) == 0);
    EXPECT(flowai_event_dropped(NULL) == 0);
    EXPECT(flowai_event_text(NULL) == NULL);
    EXPECT(flowai_event_json(NULL) == NULL);
    NUL(flowai_event_copy(NULL, &e));
    flowai_event_free(NULL);

    INVALID(flowai_set_log_callback(on_log_noop, NULL, 6));
    OK(flowai_set_log_callback(NULL, NULL, FLOWAI_LOG_OFF));
    flowai_message_free(m);
}

/* ---------------------------------------------------------------- part 2: a live client */

struct seen {
    pthread_mutex_t lock;
    unsigned events;
    unsigned replies;
    int unregistered_inside;
    int free_ignored;
    flowai_client *client;
    flowai_event *kept;
};

static void on_event(void *user_data, const flowai_event *event) {
    struct seen *s = user_data;
    pthread_mutex_lock(&s->lock);
    s->events++;
    if (flowai_event_get_kind(event) == FLOWAI_EVENT_REPLY) {
        s->replies++;
        if (s->kept == NULL) {
            flowai_event_copy(event, &s->kept);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* Unregisters itself from inside the callback on its first reply. */
static void on_event_unregister(void *user_data, const flowai_event *event) {
    struct seen *s = user_data;
    /* Freeing a lent event is refused, not a crash. */
    flowai_event_free((flowai_event *)event);
    pthread_mutex_lock(&s->lock);
    s->free_ignored = strstr(flowai_last_error(), "lent to a callback") != NULL;
    s->events++;
    int reply = flowai_event_get_kind(event) == FLOWAI_EVENT_REPLY;
    pthread_mutex_unlock(&s->lock);
    if (reply) {
        flowai_result rc = flowai_client_set_callback(s->client, NULL, NULL);
        pthread_mutex_lock(&s->lock);
        s->unregistered_inside = rc == FLOWAI_OK ? 1 : -1;
        pthread_mutex_unlock(&s->lock);
    }
}

static unsigned log_records = 0;
static void on_log(void *user_data, uint32_t level, const char *target, const char *msg) {
    (void)user_data;
    if (level >= FLOWAI_LOG_ERROR && level <= FLOWAI_LOG_TRACE && target && msg) {
        __atomic_fetch_add(&log_records, 1, __ATOMIC_SEQ_CST);
    }
}

/* Receives until an event of this kind (freeing the others); 1 when found. */
static int recv_until(flowai_client *c, flowai_event_kind kind, flowai_event **out) {
    for (int i = 0; i < 100; i++) {
        flowai_event *e = NULL;
        flowai_result rc = flowai_client_recv(c, 10000, &e);
        if (rc != FLOWAI_OK) {
            fprintf(stderr, "recv: %s: %s\n", flowai_result_str(rc), flowai_last_error());
            return 0;
        }
        if (flowai_event_get_kind(e) == kind) {
            *out = e;
            return 1;
        }
        flowai_event_free(e);
    }
    return 0;
}

/* A temporary file of `size` bytes; its path is written to `path` (at least 64 bytes). */
static int temp_file(char *path, size_t size) {
    static char chunk[64 * 1024];
    strcpy(path, "/tmp/flowai-abi-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 0;
    }
    memset(chunk, 'x', sizeof chunk);
    size_t left = size;
    while (left > 0) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        if (write(fd, chunk, n) != (ssize_t)n) {
            perror("write");
            close(fd);
            return 0;
        }
        left -= n;
    }
    close(fd);
    return 1;
}

/* The REST calls on a connected client whose thread has had a conversation. */
static void test_live_rest(flowai_client *c) {
    /* Secret: the one from the config for the configured thread, none for another. */
    char *text = NULL;
    NUL(flowai_client_secret(c, NULL, &text));
    UTF(flowai_client_secret(c, BAD, &text));
    NUL(flowai_client_secret(c, "", NULL));
    OK(flowai_client_secret(c, "", &text));
    EXPECT(text != NULL && strcmp(text, "c-secret") == 0);
    flowai_string_free(text);
    text = NULL;
    OK(flowai_client_secret(c, "jane.doe", &text));
    EXPECT(text != NULL && strcmp(text, "c-secret") == 0);
    flowai_string_free(text);
    text = (char *)"untouched";
    OK(flowai_client_secret(c, "nobody", &text));
    EXPECT(text == NULL); /* no secret known: OK and NULL */

    /* History of the conversation so far; another thread's is empty. */
    text = NULL;
    NUL(flowai_client_history(c, NULL, &text));
    UTF(flowai_client_history(c, BAD, &text));
    NUL(flowai_client_history(c, "", NULL));
    EXPECT(text == NULL);
    OK(flowai_client_history(c, "", &text));
    EXPECT(text != NULL);
    if (text != NULL) {
        EXPECT(strstr(text, "\"threadId\":\"jane.doe\"") != NULL);
        EXPECT(strstr(text, "\"type\":\"message.send\"") != NULL);
        EXPECT(strstr(text, "Event MY EVENT received") != NULL);
        EXPECT(strstr(text, "\"name\":\"Jane Doe\"") != NULL);
        /* A message without originator got the configured one. */
        EXPECT(strstr(text, "\"name\":\"C Tester\"") != NULL);
    }
    flowai_string_free(text);
    text = NULL;
    OK(flowai_client_history(c, "nobody", &text));
    EXPECT(text != NULL && strstr(text, "\"history\":[]") != NULL);
    flowai_string_free(text);

    /* Unnoticed: the bot replied and nobody noticed yet. */
    int32_t unnoticed = -1;
    NUL(flowai_client_unnoticed(c, NULL, &unnoticed));
    UTF(flowai_client_unnoticed(c, BAD, &unnoticed));
    NUL(flowai_client_unnoticed(c, "", NULL));
    EXPECT(unnoticed == -1);
    OK(flowai_client_unnoticed(c, "", &unnoticed));
    EXPECT(unnoticed == 1);
    OK(flowai_client_unnoticed(c, "nobody", &unnoticed));
    EXPECT(unnoticed == 0);

    /* Merge. */
    NUL(flowai_client_merge(c, NULL, "", ""));
    NUL(flowai_client_merge(c, "key", NULL, ""));
    NUL(flowai_client_merge(c, "key", "", NULL));
    UTF(flowai_client_merge(c, BAD, "", ""));
    UTF(flowai_client_merge(c, "key", BAD, ""));
    UTF(flowai_client_merge(c, "key", "", BAD));
    INVALID(flowai_client_merge(c, "", "", ""));
    OK(flowai_client_merge(c, "merger-key", "", ""));
    OK(flowai_client_merge(c, "merger-key", "other-thread", "other-session"));

    /* Upload: a small file with a message, then without message or result. */
    char small[64], big[64];
    EXPECT(temp_file(small, 1234));
    flowai_message *m = flowai_message_new();
    OK(flowai_message_set_speech(m, "here is my file"));
    text = NULL;
    NUL(flowai_client_upload(c, NULL, m, &text));
    UTF(flowai_client_upload(c, BAD, m, &text));
    EXPECT(text == NULL);
    OK(flowai_client_upload(c, small, m, &text));
    EXPECT(text != NULL && strstr(text, "\"size\":1234") != NULL &&
           strstr(text, "\"fileName\":\"flowai-abi-") != NULL);
    flowai_string_free(text);
    OK(flowai_client_upload(c, small, NULL, NULL));
    flowai_event *e = NULL;
    for (int i = 0; i < 2; i++) {
        EXPECT(recv_until(c, FLOWAI_EVENT_REPLY, &e));
        EXPECT(e && strstr(flowai_event_text(e), "Received file flowai-abi-") != NULL &&
               strstr(flowai_event_text(e), "(1234 bytes)") != NULL);
        flowai_event_free(e);
        e = NULL;
    }
    OK(flowai_client_history(c, "", &text));
    EXPECT(text && strstr(text, "\"type\":\"file.upload\"") &&
           strstr(text, "\"speech\":\"here is my file\"") &&
           strstr(text, "\"speech\":\"file attachment\""));
    flowai_string_free(text);
    text = NULL;

    /* Over the server's limit: FLOWAI_TOO_LARGE, final; a missing file: FLOWAI_IO. */
    EXPECT(temp_file(big, TOO_LARGE_BYTES));
    EXPECT_CODE(flowai_client_upload(c, big, m, &text), FLOWAI_TOO_LARGE);
    EXPECT(strstr(flowai_last_error(), "HTTP 413") != NULL);
    EXPECT(text == NULL);
    EXPECT_CODE(flowai_client_upload(c, "/definitely/not/here.txt", m, &text), FLOWAI_IO);
    EXPECT(text == NULL);
    unlink(small);
    unlink(big);
    flowai_message_free(m);
    EXPECT(flowai_client_is_connected(c) == 1); /* the client is fine afterwards */
}

/* A queue of 2 events and 5 messages: every acknowledgement still arrives, and what did not
 * fit is reported as FLOWAI_EVENT_OVERFLOW with its count. */
static void test_live_overflow(const char *base_url, const char *client_id) {
    flowai_config *cfg = NULL;
    flowai_client *c = NULL;
    OK(flowai_config_new(client_id, &cfg));
    OK(flowai_config_set_base_url(cfg, base_url));
    OK(flowai_config_set_max_queued_events(cfg, 2));
    OK(flowai_client_connect(cfg, &c));
    flowai_config_free(cfg);
    if (c == NULL) {
        return;
    }
    flowai_message *m = flowai_message_new();
    OK(flowai_message_set_speech(m, "overflow"));
    for (int i = 0; i < 5; i++) {
        uint64_t trace = 0;
        OK(flowai_client_send(c, m, &trace));
        OK(flowai_client_wait_delivered(c, trace, 10000));
    }
    flowai_message_free(m);
    uint64_t dropped = 0;
    flowai_event *e = NULL;
    while (flowai_client_recv(c, 300, &e) == FLOWAI_OK) {
        if (flowai_event_get_kind(e) == FLOWAI_EVENT_OVERFLOW) {
            dropped += flowai_event_dropped(e);
            EXPECT(strcmp(flowai_event_name(e), "overflow") == 0);
            EXPECT(strstr(flowai_event_json(e), "\"dropped\"") != NULL);
            EXPECT(flowai_event_text(e) != NULL);
        }
        flowai_event_free(e);
        e = NULL;
    }
    EXPECT(dropped > 0);
    OK(flowai_client_close(c));
    flowai_client_free(c);
}

static void test_live(const char *base_url, const char *client_id) {
    OK(flowai_set_log_callback(on_log, NULL, FLOWAI_LOG_TRACE));
    flowai_config *cfg = NULL;
    OK(flowai_config_new(client_id, &cfg));
    OK(flowai_config_set_base_url(cfg, base_url));
    OK(flowai_config_set_thread_id(cfg, "jane.doe"));
    OK(flowai_config_set_keepalive_ms(cfg, 200));
    OK(flowai_config_set_originator_name(cfg, "C Tester"));
    OK(flowai_config_set_secret(cfg, "c-secret"));
    OK(flowai_config_set_ott(cfg, "one-time-token"));
    flowai_client *c = NULL;
    OK(flowai_client_connect(cfg, &c));
    flowai_config_free(cfg);
    if (c == NULL) {
        return;
    }
    EXPECT(strcmp(flowai_client_thread_id(c), "jane.doe") == 0);
    EXPECT(strlen(flowai_client_session_id(c)) > 0);

    flowai_event *e = NULL;
    EXPECT(recv_until(c, FLOWAI_EVENT_CONNECTED, &e));
    EXPECT(strstr(flowai_event_json(e), "\"type\":\"connected\"") != NULL);
    EXPECT(strcmp(flowai_event_name(e), "connected") == 0);
    flowai_event_free(e);
    EXPECT(flowai_client_is_connected(c) == 1);

    /* Builder send, wait for the ack, receive the reply. */
    flowai_message *m = flowai_message_new();
    OK(flowai_message_set_event(m, "MY EVENT"));
    OK(flowai_message_set_originator_name(m, "Jane Doe"));
    uint64_t trace = 0;
    NUL(flowai_client_send(c, NULL, &trace));
    OK(flowai_client_send(c, m, &trace));
    EXPECT(trace != 0);
    OK(flowai_client_wait_delivered(c, trace, 10000));
    EXPECT(recv_until(c, FLOWAI_EVENT_DELIVERED, &e));
    EXPECT(flowai_event_trace_id(e) == trace);
    EXPECT(flowai_event_dropped(e) == 0);
    EXPECT(strcmp(flowai_event_thread_id(e), "jane.doe") == 0);
    EXPECT(flowai_event_text(e) == NULL);
    flowai_event_free(e);
    EXPECT(recv_until(c, FLOWAI_EVENT_REPLY, &e));
    EXPECT(strcmp(flowai_event_text(e), "Event MY EVENT received") == 0);
    EXPECT(strstr(flowai_event_json(e), "\"type\":\"message.received\"") != NULL);
    flowai_event *copy = NULL;
    NUL(flowai_event_copy(e, NULL));
    OK(flowai_event_copy(e, &copy));
    flowai_event_free(e);
    EXPECT(copy && strcmp(flowai_event_text(copy), "Event MY EVENT received") == 0);
    flowai_event_free(copy);

    /* JSON send: validated before sending. */
    NUL(flowai_client_send_json(c, NULL, &trace));
    UTF(flowai_client_send_json(c, BAD, &trace));
    INVALID(flowai_client_send_json(c, "{not json", &trace));
    INVALID(flowai_client_send_json(c, "{\"type\":\"ping\"}", &trace));
    INVALID(flowai_client_send_json(c, "{\"threadId\":\"jane.doe\"}", &trace));
    OK(flowai_client_send_json(c, "{\"type\":\"message.send\",\"payload\":{\"threadId\":\"jane.doe\","
                                  "\"speech\":\"hi\",\"traceId\":7}}",
                               &trace));
    EXPECT(trace == 7);
    OK(flowai_client_send_json(c, "{\"speech\":\"no trace out\"}", NULL));
    OK(flowai_client_flush(c, 10000));
    EXPECT(flowai_client_pending(c) == 0);

    /* Timeouts. */
    flowai_event *none = NULL;
    while (flowai_client_recv(c, 500, &none) == FLOWAI_OK) { /* drain */
        flowai_event_free(none);
        none = NULL;
    }
    EXPECT_CODE(flowai_client_recv(c, 0, &none), FLOWAI_TIMEOUT);
    EXPECT(none == NULL);
    NUL(flowai_client_recv(c, 0, NULL));

    test_live_rest(c);

    /* Control frames. */
    int32_t queued = -1;
    NUL(flowai_client_noticed(c, NULL, 0, &queued));
    UTF(flowai_client_noticed(c, BAD, 0, &queued));
    INVALID(flowai_client_noticed(c, "", 2, &queued));
    OK(flowai_client_noticed(c, "", 1, &queued));
    EXPECT(queued == 1);
    OK(flowai_client_noticed(c, "", 0, &queued));
    EXPECT(queued == 0); /* throttled */
    OK(flowai_client_noticed(c, "other", 0, NULL));
    OK(flowai_client_user_typing(c));
    /* Noticed clears unnoticed (once the emulator has read the frame). */
    int32_t unnoticed = -1;
    for (int i = 0; i < 100; i++) {
        OK(flowai_client_unnoticed(c, "", &unnoticed));
        if (unnoticed == 0) {
            break;
        }
        usleep(50 * 1000);
    }
    EXPECT(unnoticed == 0);

    /* Callback: receives events; recv is refused meanwhile; unregister stops it. */
    struct seen s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    s.client = c;
    OK(flowai_client_set_callback(c, on_event, &s));
    EXPECT_CODE(flowai_client_recv(c, 0, &none), FLOWAI_INVALID_STATE);
    OK(flowai_client_send(c, m, NULL));
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&s.lock);
        unsigned r = s.replies;
        pthread_mutex_unlock(&s.lock);
        if (r >= 1) {
            break;
        }
        usleep(50 * 1000);
    }
    OK(flowai_client_set_callback(c, NULL, NULL));
    pthread_mutex_lock(&s.lock);
    unsigned events_at_unregister = s.events;
    EXPECT(s.replies >= 1);
    const char *kept = s.kept != NULL ? flowai_event_text(s.kept) : "(no reply kept)";
    if (strcmp(kept, "Event MY EVENT received") != 0) {
        fprintf(stderr, "the callback's first reply: %s\n", kept);
    }
    EXPECT(strcmp(kept, "Event MY EVENT received") == 0);
    pthread_mutex_unlock(&s.lock);
    flowai_event_free(s.kept);
    s.kept = NULL;
    OK(flowai_client_send(c, m, NULL));
    usleep(300 * 1000);
    pthread_mutex_lock(&s.lock);
    EXPECT(s.events == events_at_unregister); /* no calls after unregistering */
    pthread_mutex_unlock(&s.lock);

    /* A callback that unregisters itself from inside. */
    while (flowai_client_recv(c, 300, &none) == FLOWAI_OK) {
        flowai_event_free(none);
        none = NULL;
    }
    OK(flowai_client_set_callback(c, on_event_unregister, &s));
    OK(flowai_client_send(c, m, NULL));
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&s.lock);
        int done = s.unregistered_inside;
        pthread_mutex_unlock(&s.lock);
        if (done) {
            break;
        }
        usleep(50 * 1000);
    }
    pthread_mutex_lock(&s.lock);
    EXPECT(s.unregistered_inside == 1);
    EXPECT(s.free_ignored == 1);
    pthread_mutex_unlock(&s.lock);
    /* With the callback gone, recv works again. */
    OK(flowai_client_send(c, m, &trace));
    EXPECT(recv_until(c, FLOWAI_EVENT_REPLY, &e));
    flowai_event_free(e);

    /* A callback left registered is stopped by close. */
    OK(flowai_client_set_callback(c, on_event, &s));

    /* Close, then every call is FLOWAI_CLOSED; close again is fine. */
    OK(flowai_client_close(c));
    OK(flowai_client_close(c));
    EXPECT(flowai_client_is_connected(c) == 0);
    EXPECT_CODE(flowai_client_send(c, m, &trace), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_send_json(c, "{\"speech\":\"x\"}", &trace), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_wait_delivered(c, trace, 10), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_flush(c, 10), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_recv(c, 10, &none), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_set_callback(c, on_event, &s), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_set_callback(c, NULL, NULL), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_noticed(c, "", 1, NULL), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_user_typing(c), FLOWAI_CLOSED);
    char *closed_text = NULL;
    int32_t closed_flag = -1;
    EXPECT_CODE(flowai_client_secret(c, "", &closed_text), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_history(c, "", &closed_text), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_unnoticed(c, "", &closed_flag), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_merge(c, "key", "", ""), FLOWAI_CLOSED);
    EXPECT_CODE(flowai_client_upload(c, "/tmp/x", NULL, &closed_text), FLOWAI_CLOSED);
    EXPECT(closed_text == NULL && closed_flag == -1);
    EXPECT(strstr(flowai_last_error(), "after flowai_client_close") != NULL);
    EXPECT(strcmp(flowai_client_thread_id(c), "jane.doe") == 0);
    flowai_client_free(c);
    flowai_message_free(m);
    pthread_mutex_destroy(&s.lock);

    /* A client freed without close closes itself. */
    OK(flowai_config_new(client_id, &cfg));
    OK(flowai_config_set_base_url(cfg, base_url));
    OK(flowai_client_connect(cfg, &c));
    flowai_config_free(cfg);
    OK(flowai_client_set_callback(c, on_event_noop, NULL));
    flowai_client_free(c);

    /* A refused connect: nothing listens on port 1. */
    OK(flowai_config_new(client_id, &cfg));
    OK(flowai_config_set_base_url(cfg, "http://127.0.0.1:1"));
    OK(flowai_config_set_connect_timeout_ms(cfg, 2000));
    c = NULL;
    flowai_result rc = flowai_client_connect(cfg, &c);
    EXPECT(rc == FLOWAI_NETWORK || rc == FLOWAI_TIMEOUT);
    EXPECT(c == NULL);
    flowai_config_free(cfg);

    OK(flowai_set_log_callback(NULL, NULL, FLOWAI_LOG_OFF));
    printf("test_abi: %u log records forwarded\n", log_records);
}

int main(void) {
    test_result_and_version();
    test_config_arguments();
    test_message_arguments();
    test_message_json();
    test_client_and_event_arguments();
    const char *base_url = getenv("FLOWAI_BASE_URL");
    const char *client_id = getenv("FLOWAI_CLIENT_ID");
    if (base_url && *base_url) {
        test_live(base_url, client_id && *client_id ? client_id : "test-abi");
        test_live_overflow(base_url, client_id && *client_id ? client_id : "test-abi");
    } else {
        printf("test_abi: FLOWAI_BASE_URL not set, live part skipped\n");
    }
    if (failures) {
        fprintf(stderr, "test_abi: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_abi: %d checks passed\n", checks);
    return 0;
}
