/*
 * quickstart.cpp: the original Flow Socket API example in C++17, through include/flowai.hpp
 * (the C++ twin of quickstart.c; same steps, same output).
 *
 * Connects, sends Jane Doe's "MY EVENT" event message (threadId "jane.doe"), prints the
 * message.delivered acknowledgement and the bot's reply, stays connected for a moment
 * (keepalive pings run in the background), and closes.
 *
 *   FLOWAI_CLIENT_ID=...  [FLOWAI_BASE_URL=https://sdk.flow.ai]  ./quickstart-cpp
 *
 * Against the local emulator (`cargo run -- emulator --port 8080`):
 *   FLOWAI_CLIENT_ID=test FLOWAI_BASE_URL=http://127.0.0.1:8080 ./quickstart-cpp
 *
 * Optional: FLOWAI_STAY_MS, how long to stay connected after the reply (default 2000).
 */
#include <flowai.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>

using namespace std::chrono_literals;

namespace {

/* The test message of the original example. */
flowai::Message jane_doe_event() {
    flowai::Message m;
    m.set_thread_id("jane.doe")
        .set_speech("event attachment")
        .set_event("MY EVENT")
        .set_originator_name("Jane Doe")
        .set_originator_role(FLOWAI_ROLE_EXTERNAL)
        .set_profile_full_name("Jane Doe")
        .set_profile_first_name("Jane")
        .set_profile_last_name("Doe")
        .set_profile_gender("F")
        .set_profile_locale("en-US")
        .set_profile_timezone(-5)
        .set_profile_country("us")
        .set_profile_email("jane.doe@example.com")
        .set_profile_picture("https://en.wikipedia.org/wiki/File:YellowLabradorLooking_new.jpg")
        .set_originator_metadata("clientNumber", "12345")
        .set_originator_metadata("preference", "A,B,G");
    return m;
}

std::string env(const char *name, const char *fallback) {
    const char *value = std::getenv(name);
    return value != nullptr && value[0] != '\0' ? value : fallback;
}

int run(const std::string &client_id, const std::string &base_url) {
    std::cout << "flowai " << flowai::version() << " (ABI " << flowai::abi_version()
              << "), header " << FLOWAI_VERSION << "\n";

    flowai::Config config(client_id);
    config.set_base_url(base_url).set_thread_id("jane.doe").set_keepalive(30s); /* as the example */
    flowai::Client client = flowai::Client::connect(config);
    std::cout << "Connected to " << base_url << " (thread " << client.thread_id()
              << ", session " << client.session_id() << ")\n";

    uint64_t trace = client.send(jane_doe_event());
    std::cout << "Sent event MY EVENT as Jane Doe (traceId " << trace << ")\n";

    bool acked = false, replied = false;
    while (!(acked && replied)) {
        std::optional<flowai::Event> event = client.recv(15s);
        if (!event) {
            std::cerr << "no reply within 15 s\n";
            return 1;
        }
        switch (event->kind()) {
        case FLOWAI_EVENT_DELIVERED:
        case FLOWAI_EVENT_ACTIVITIES_DELIVERED:
            if (event->trace_id() == trace) {
                acked = true;
                std::cout << "Delivered: traceId " << event->trace_id() << " in thread "
                          << event->thread_id().value_or("?") << "\n";
            }
            break;
        case FLOWAI_EVENT_REPLY:
        case FLOWAI_EVENT_ACTIVITIES_CREATED:
            replied = true;
            std::cout << "Reply in thread " << event->thread_id().value_or("?") << ": "
                      << event->text().value_or("") << "\n";
            break;
        case FLOWAI_EVENT_CLOSED:
            std::cerr << "connection closed: " << event->text().value_or("") << "\n";
            return 1;
        default:
            std::cout << "Event " << event->name() << ": " << event->json() << "\n";
            break;
        }
    }

    /* Stay connected for a moment, as the example keeps its socket open with pings. */
    auto stay = std::chrono::milliseconds(std::stoul(env("FLOWAI_STAY_MS", "2000")));
    while (auto event = client.recv(stay)) {
        std::cout << "Event " << event->name() << ": " << event->json() << "\n";
    }
    std::cout << "Still connected: " << (client.is_connected() ? "yes" : "no") << "\n";

    client.close();
    std::cout << "Closed.\n";
    return 0;
}

} // namespace

int main() {
    std::string client_id = env("FLOWAI_CLIENT_ID", "");
    if (client_id.empty()) {
        std::cerr << "Set FLOWAI_CLIENT_ID (and FLOWAI_BASE_URL for a local emulator, e.g. "
                     "http://127.0.0.1:8080).\n";
        return 2;
    }
    try {
        return run(client_id, env("FLOWAI_BASE_URL", "https://sdk.flow.ai"));
    } catch (const flowai::Error &e) {
        std::cerr << "flowai failed (" << static_cast<unsigned>(e.code()) << "): " << e.what()
                  << "\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "failed: " << e.what() << "\n";
        return 1;
    }
}
