/*
 * quickstart.c: the original Flow Socket API example, in C.
 *
 * Connects, sends Jane Doe's "MY EVENT" event message (threadId "jane.doe"), prints the
 * message.delivered acknowledgement and the bot's reply, stays connected for a moment
 * (keepalive pings run in the background), and closes.
 *
 *   FLOWAI_CLIENT_ID=...  [FLOWAI_BASE_URL=https://sdk.flow.ai]  ./quickstart
 *
 * Against the local emulator (`cargo run -- emulator --port 8080`):
 *   FLOWAI_CLIENT_ID=test FLOWAI_BASE_URL=http://127.0.0.1:8080 ./quickstart
 *
 * Optional: FLOWAI_STAY_MS, how long to stay connected after the reply (default 2000).
 */
#include <flowai.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the failure of a flowai call and exits. */
static void check(flowai_result rc, const char *what) {
    if (rc != FLOWAI_OK) {
        fprintf(stderr, "%s failed: %s (%u): %s\n", what, flowai_result_str(rc), (unsigned)rc,
                flowai_last_error());
        exit(1);
    }
}

/* The test message of the original example. */
static flowai_message *jane_doe_event(void) {
    flowai_message *m = flowai_message_new();
    if (m == NULL) {
        fprintf(stderr, "flowai_message_new failed\n");
        exit(1);
    }
    check(flowai_message_set_thread_id(m, "jane.doe"), "set thread id");
    check(flowai_message_set_speech(m, "event attachment"), "set speech");
    check(flowai_message_set_event(m, "MY EVENT"), "set event");
    check(flowai_message_set_originator_name(m, "Jane Doe"), "set originator");
    check(flowai_message_set_originator_role(m, FLOWAI_ROLE_EXTERNAL), "set role");
    check(flowai_message_set_profile_full_name(m, "Jane Doe"), "profile");
    check(flowai_message_set_profile_first_name(m, "Jane"), "profile");
    check(flowai_message_set_profile_last_name(m, "Doe"), "profile");
    check(flowai_message_set_profile_gender(m, "F"), "profile");
    check(flowai_message_set_profile_locale(m, "en-US"), "profile");
    check(flowai_message_set_profile_timezone(m, -5), "profile");
    check(flowai_message_set_profile_country(m, "us"), "profile");
    check(flowai_message_set_profile_email(m, "jane.doe@example.com"), "profile");
    check(flowai_message_set_profile_picture(
              m, "https://en.wikipedia.org/wiki/File:YellowLabradorLooking_new.jpg"),
          "profile");
    check(flowai_message_set_originator_metadata(m, "clientNumber", "12345"), "metadata");
    check(flowai_message_set_originator_metadata(m, "preference", "A,B,G"), "metadata");
    return m;
}

int main(void) {
    const char *client_id = getenv("FLOWAI_CLIENT_ID");
    const char *base_url = getenv("FLOWAI_BASE_URL");
    const char *stay = getenv("FLOWAI_STAY_MS");
    if (client_id == NULL || client_id[0] == '\0') {
        fprintf(stderr, "Set FLOWAI_CLIENT_ID (and FLOWAI_BASE_URL for a local emulator, e.g. "
                        "http://127.0.0.1:8080).\n");
        return 2;
    }
    if (base_url == NULL || base_url[0] == '\0') {
        base_url = "https://sdk.flow.ai";
    }
    printf("flowai %s (ABI %u), header %s\n", flowai_version(), flowai_abi_version(),
           FLOWAI_VERSION);

    flowai_config *config = NULL;
    check(flowai_config_new(client_id, &config), "flowai_config_new");
    check(flowai_config_set_base_url(config, base_url), "set base url");
    check(flowai_config_set_thread_id(config, "jane.doe"), "set thread id");
    check(flowai_config_set_keepalive_ms(config, 30000), "set keepalive"); /* as the example */

    flowai_client *client = NULL;
    check(flowai_client_connect(config, &client), "flowai_client_connect");
    flowai_config_free(config);
    printf("Connected to %s (thread %s, session %s)\n", base_url, flowai_client_thread_id(client),
           flowai_client_session_id(client));

    flowai_message *message = jane_doe_event();
    uint64_t trace = 0;
    check(flowai_client_send(client, message, &trace), "flowai_client_send");
    flowai_message_free(message);
    printf("Sent event MY EVENT as Jane Doe (traceId %llu)\n", (unsigned long long)trace);

    int acked = 0, replied = 0;
    while (!(acked && replied)) {
        flowai_event *event = NULL;
        flowai_result rc = flowai_client_recv(client, 15000, &event);
        if (rc == FLOWAI_TIMEOUT) {
            fprintf(stderr, "no reply within 15 s\n");
            return 1;
        }
        check(rc, "flowai_client_recv");
        switch (flowai_event_get_kind(event)) {
        case FLOWAI_EVENT_DELIVERED:
        case FLOWAI_EVENT_ACTIVITIES_DELIVERED:
            if (flowai_event_trace_id(event) == trace) {
                acked = 1;
                printf("Delivered: traceId %llu in thread %s\n",
                       (unsigned long long)flowai_event_trace_id(event),
                       flowai_event_thread_id(event) ? flowai_event_thread_id(event) : "?");
            }
            break;
        case FLOWAI_EVENT_REPLY:
        case FLOWAI_EVENT_ACTIVITIES_CREATED:
            replied = 1;
            printf("Reply in thread %s: %s\n", flowai_event_thread_id(event),
                   flowai_event_text(event));
            break;
        case FLOWAI_EVENT_CLOSED:
            fprintf(stderr, "connection closed: %s\n", flowai_event_text(event));
            return 1;
        default:
            printf("Event %s: %s\n", flowai_event_name(event), flowai_event_json(event));
            break;
        }
        flowai_event_free(event);
    }

    /* Stay connected for a moment, as the example keeps its socket open with pings. */
    unsigned stay_ms = stay ? (unsigned)strtoul(stay, NULL, 10) : 2000;
    flowai_event *event = NULL;
    while (flowai_client_recv(client, stay_ms, &event) == FLOWAI_OK) {
        printf("Event %s: %s\n", flowai_event_name(event), flowai_event_json(event));
        flowai_event_free(event);
    }
    printf("Still connected: %s\n", flowai_client_is_connected(client) ? "yes" : "no");

    check(flowai_client_close(client), "flowai_client_close");
    flowai_client_free(client);
    printf("Closed.\n");
    return 0;
}
