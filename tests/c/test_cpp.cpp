/*
 * test_cpp.cpp: checks include/flowai.hpp the way a C++ caller meets it. Compile-time: the
 * handles are move-only. Without a server: exceptions carry the code and the library's text,
 * setters validate, durations convert. With FLOWAI_BASE_URL (the emulator in the tests): a
 * client's life through the wrapper (send, wait, recv, the REST calls, callbacks registered,
 * replaced and unregistered from inside themselves, the log callback, move, close, use after
 * close). Run under AddressSanitizer + UndefinedBehaviorSanitizer by tests/c/cpp_wrapper.rs.
 *
 * Prints "test_cpp: N checks passed" and exits 0, or names each failed check and exits 1.
 */
#include <flowai.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<flowai::Config>, "Config is move-only");
static_assert(!std::is_copy_constructible_v<flowai::Message>, "Message is move-only");
static_assert(!std::is_copy_constructible_v<flowai::Client>, "Client is move-only");
static_assert(!std::is_copy_constructible_v<flowai::Event>, "Event is move-only");
static_assert(std::is_nothrow_move_constructible_v<flowai::Client>, "Client moves");
static_assert(std::is_nothrow_move_constructible_v<flowai::Event>, "Event moves");
static_assert(std::is_base_of_v<std::runtime_error, flowai::Error>, "Error is a runtime_error");

namespace {

int checks = 0;
int failures = 0;

void expect(bool ok, const char *what, int line) {
    checks++;
    if (!ok) {
        failures++;
        std::cerr << "test_cpp.cpp:" << line << ": expected " << what << "\n";
    }
}
#define EXPECT(cond) expect((cond), #cond, __LINE__)

/* Runs `call`, expecting a flowai::Error with this code; returns its text. */
template <class F> std::string expect_error(F call, flowai_result want, int line) {
    checks++;
    try {
        call();
    } catch (const flowai::Error &e) {
        if (e.code() == want) {
            return e.what();
        }
        std::cerr << "test_cpp.cpp:" << line << ": code " << e.code() << " (" << e.what()
                  << "), expected " << want << "\n";
        failures++;
        return e.what();
    }
    std::cerr << "test_cpp.cpp:" << line << ": no flowai::Error, expected code " << want << "\n";
    failures++;
    return "";
}
#define EXPECT_ERROR(code, ...) expect_error([&] { __VA_ARGS__; }, code, __LINE__)

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

/* ------------------------------------------------------------------- without a server */

void offline() {
    EXPECT(flowai::version() == FLOWAI_VERSION);
    EXPECT(flowai::abi_version() == FLOWAI_ABI_VERSION);

    // Exceptions carry the code, whether it is retryable, and the library's own text.
    std::string text = EXPECT_ERROR(FLOWAI_INVALID_STATE, flowai::Message().set_event_label("x"));
    EXPECT(contains(text, flowai_result_str(FLOWAI_INVALID_STATE)));
    EXPECT(contains(text, "event"));
    EXPECT_ERROR(FLOWAI_INVALID_ARGUMENT, flowai::Message().set_originator_metadata_json("k", "{not json"));
    EXPECT_ERROR(FLOWAI_INVALID_ARGUMENT, flowai::Message().set_timezone(std::nan("")));
    try {
        flowai::Client refused = flowai::Client::connect(
            flowai::Config("cpp").set_base_url("http://127.0.0.1:1").set_connect_timeout(2s));
        EXPECT(false && "connected to a closed port");
    } catch (const flowai::Error &e) {
        EXPECT(e.code() == FLOWAI_NETWORK);
        EXPECT(e.retryable() && !e.final());
        EXPECT(!e.detail().empty() && contains(e.what(), e.detail()));
        EXPECT(contains(e.what(), flowai_result_str(FLOWAI_NETWORK)));
    }
    EXPECT_ERROR(FLOWAI_CONFIG, flowai::Client::connect(flowai::Config("cpp").set_base_url("ftp://nowhere")));
    EXPECT(flowai::result_is_final(FLOWAI_CONFIG) && !flowai::result_is_final(FLOWAI_TIMEOUT));
    // http:// to another machine needs allow_insecure; a proxy URL must be http://.
    EXPECT_ERROR(FLOWAI_CONFIG, flowai::Client::connect(
        flowai::Config("cpp").set_base_url("http://flow.example").set_no_proxy()));
    EXPECT_ERROR(FLOWAI_CONFIG, flowai::Client::connect(
        flowai::Config("cpp").set_base_url("http://127.0.0.1:1").set_proxy("socks5://p:1")));
    flowai::Config("cpp").set_allow_insecure(true).set_max_queued_bytes(1 << 20);

    // Setters chain; strings need not be NUL-terminated; the message reads back as JSON.
    std::string_view speech = std::string_view("hello there").substr(0, 5);
    flowai::Message m;
    m.set_speech(speech).set_thread_id("t1").set_trace_id(42).set_originator_role(FLOWAI_ROLE_MODERATOR);
    m.add_param("seats", "Business").set_originator_metadata_json("n", "[1,2]").set_language("en-US");
    std::string json = m.to_json();
    EXPECT(contains(json, "\"speech\":\"hello\""));
    EXPECT(contains(json, "\"traceId\":42"));
    EXPECT(contains(json, "moderator"));
    EXPECT(contains(json, "Business"));

    // Durations: any std::chrono duration of whole milliseconds or coarser.
    flowai::Config config("cpp");
    config.set_keepalive(25s).set_pong_timeout(10000ms).set_io_timeout(std::chrono::minutes(1));
    config.set_backoff(100ms, 20s, 3).set_max_queued_events(10).set_reconnect(false).set_outbox(true);
    config.set_session_policy(FLOWAI_SESSION_POLICY_RENEW).set_originator_role(FLOWAI_ROLE_EXTERNAL);
    EXPECT(config.get() != nullptr);
    EXPECT(flowai::detail::to_ms(std::chrono::milliseconds(-5)) == 0u);
    EXPECT(flowai::detail::to_ms(std::chrono::hours(24 * 365)) == UINT32_MAX);
    EXPECT(flowai::detail::arg(true) == 1 && flowai::detail::arg(false) == 0);

    flowai::Config moved = std::move(config);
    EXPECT(moved.get() != nullptr && config.get() == nullptr);
}

/* ------------------------------------------------------------------- against a server */

/* Waits until `done()` holds (signalled through `cv`), at most 10 s. */
template <class F> bool wait_for(std::mutex &mutex, std::condition_variable &cv, F done) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, 10s, done);
}

void callbacks(flowai::Client &client) {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<flowai::Event> kept; // copies of borrowed events, used after the calls
    int first_calls = 0, second_calls = 0;
    bool unregistered = false;

    // The first callback replaces itself from inside; the second unregisters itself.
    client.set_callback([&](const flowai::Event &event) {
        std::lock_guard<std::mutex> lock(mutex);
        first_calls++;
        kept.push_back(event.copy());
        client.set_callback([&](const flowai::Event &later) {
            std::lock_guard<std::mutex> lock2(mutex);
            second_calls++;
            kept.push_back(later.copy());
            if (later.text().value_or("") == "You said: to the callback") {
                client.set_callback(nullptr);
                unregistered = true;
                cv.notify_all();
            }
        });
    });
    EXPECT_ERROR(FLOWAI_INVALID_STATE, (void)client.recv(0ms)); // events go to the callback
    uint64_t trace = client.send(flowai::Message().set_speech("to the callback"));
    EXPECT(wait_for(mutex, cv, [&] { return unregistered; }));
    {
        std::lock_guard<std::mutex> lock(mutex);
        EXPECT(first_calls == 1);
        EXPECT(second_calls >= 1);
        bool acked = false, replied = false;
        for (const flowai::Event &e : kept) {
            acked = acked || (e.kind() == FLOWAI_EVENT_DELIVERED && e.trace_id() == trace);
            replied = replied || (e.kind() == FLOWAI_EVENT_REPLY &&
                                  e.text().value_or("") == "You said: to the callback");
        }
        EXPECT(acked);
        EXPECT(replied);
    }
    // Unregistered: events come through recv again.
    uint64_t again = client.send(flowai::Message().set_speech("back to recv"));
    EXPECT(client.wait_delivered(again, 5s));
    bool got = false;
    while (auto event = client.recv(2s)) {
        if (event->kind() == FLOWAI_EVENT_REPLY) {
            got = event->text().value_or("") == "You said: back to recv";
            break;
        }
    }
    EXPECT(got);
}

void online(const std::string &base_url) {
    std::atomic<int> log_records{0};
    flowai::set_log_callback(
        [&](flowai_log_level level, std::string_view target, std::string_view message) {
            if (level >= FLOWAI_LOG_ERROR && level <= FLOWAI_LOG_TRACE && !target.empty() &&
                !message.empty()) {
                log_records++;
            }
        },
        FLOWAI_LOG_DEBUG);

    flowai::Client client = flowai::Client::connect(
        flowai::Config("test-cpp").set_base_url(base_url).set_thread_id("cpp.thread"));
    EXPECT(client.thread_id() == "cpp.thread");
    EXPECT(client.session_id().size() == 32);
    EXPECT(client.is_connected());

    auto first = client.recv(5s);
    EXPECT(first && first->kind() == FLOWAI_EVENT_CONNECTED && first->name() == "connected");
    EXPECT(!client.recv(0ms)); // nothing more yet: a timeout is std::nullopt

    uint64_t trace = client.send(flowai::Message().set_speech("hi from C++"));
    EXPECT(trace != 0);
    EXPECT(client.wait_delivered(trace, 5s));
    EXPECT(client.wait_delivered(trace + 12345, 0ms)); // not waiting: at once
    uint64_t json_trace = client.send_json(R"({"speech":"raw json","threadId":"cpp.thread"})");
    EXPECT(client.flush(5s));
    EXPECT(client.pending() == 0);
    EXPECT(json_trace != trace);
    EXPECT_ERROR(FLOWAI_INVALID_ARGUMENT, client.send_json("{nope"));

    int replies = 0;
    while (replies < 2) {
        std::optional<flowai::Event> event = client.recv(5s);
        if (!event) {
            break;
        }
        if (event->kind() == FLOWAI_EVENT_REPLY) {
            replies++;
            EXPECT(event->thread_id().value_or("") == "cpp.thread");
            flowai::Event copy = event->copy();
            EXPECT(copy.json() == event->json());
        }
    }
    EXPECT(replies == 2);

    // The SDK's REST calls.
    EXPECT(contains(client.history(), "hi from C++"));
    EXPECT(client.noticed("", true));
    // thread.noticed travels on the socket, unnoticed over REST: give the frame time to land.
    bool noticed = false;
    for (int i = 0; i < 100 && !noticed; i++) {
        noticed = !client.unnoticed();
        if (!noticed) {
            std::this_thread::sleep_for(20ms);
        }
    }
    EXPECT(noticed);
    client.user_typing();
    client.merge("merger-key");
    EXPECT(!client.secret("some.other.thread").has_value());
    std::string path = "/tmp/flowai-test-cpp-upload.txt";
    std::ofstream(path) << "a small file";
    EXPECT(contains(client.upload(path, flowai::Message().set_speech("my file")), "fileName"));
    EXPECT(contains(client.upload(path), "\"size\":12"));
    std::remove(path.c_str());
    EXPECT_ERROR(FLOWAI_IO, client.upload("/nonexistent/file"));
    while (client.recv(300ms)) {
        // the bot's answers to the uploads
    }

    callbacks(client);

    // Moving hands the connection over; the moved-from client is empty.
    flowai::Client moved = std::move(client);
    EXPECT_ERROR(FLOWAI_NULL_ARGUMENT, client.send(flowai::Message().set_speech("x")));
    EXPECT_ERROR(FLOWAI_NULL_ARGUMENT, client.set_callback([](const flowai::Event &) {}));
    EXPECT(!client.is_connected());
    moved.set_callback([](const flowai::Event &) {}); // still registered at close: released

    moved.close();
    moved.close(); // idempotent
    EXPECT_ERROR(FLOWAI_CLOSED, moved.send(flowai::Message().set_speech("late")));
    EXPECT_ERROR(FLOWAI_CLOSED, (void)moved.recv(0ms));

    // A callback that closes its own client, then still uses its own captured state: the
    // function must outlive the close (the call in progress holds it).
    {
        flowai::Client other = flowai::Client::connect(flowai::Config("test-cpp").set_base_url(base_url));
        std::mutex mutex;
        std::condition_variable cv;
        bool closed = false;
        other.set_callback([&, state = std::string("captured")](const flowai::Event &event) mutable {
            if (event.text().value_or("") == "You said: close from inside") {
                other.close();
                state += " and still alive";
                std::lock_guard<std::mutex> lock(mutex);
                closed = state == "captured and still alive";
                cv.notify_all();
            }
        });
        other.send(flowai::Message().set_speech("close from inside"));
        EXPECT(wait_for(mutex, cv, [&] { return closed; }));
        EXPECT_ERROR(FLOWAI_CLOSED, other.send(flowai::Message().set_speech("late")));
    }

    // A client destroyed with a callback still registered (the destructor unregisters).
    {
        flowai::Client other = flowai::Client::connect(flowai::Config("test-cpp").set_base_url(base_url));
        std::atomic<int> seen{0};
        other.set_callback([&](const flowai::Event &) { seen++; });
        other.send(flowai::Message().set_speech("bye"));
        EXPECT(other.flush(5s));
    }

    flowai::set_log_callback(nullptr, FLOWAI_LOG_OFF);
    EXPECT(log_records > 0);
}

} // namespace

int main() {
    offline();
    const char *base_url = std::getenv("FLOWAI_BASE_URL");
    if (base_url != nullptr && base_url[0] != '\0') {
        try {
            online(base_url);
        } catch (const flowai::Error &e) {
            std::cerr << "unexpected flowai::Error: " << e.what() << "\n";
            failures++;
        }
    } else {
        std::cout << "test_cpp: FLOWAI_BASE_URL not set, live part skipped\n";
    }
    if (failures > 0) {
        std::cout << "test_cpp: " << failures << " of " << checks << " checks failed\n";
        return 1;
    }
    std::cout << "test_cpp: " << checks << " checks passed\n";
    return 0;
}
