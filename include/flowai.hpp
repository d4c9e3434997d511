/*
 * flowai.hpp: C++17 wrapper of flowai.h, header-only.
 *
 * A thin layer: every class is one C object (Config = flowai_config, Message =
 * flowai_message, Client = flowai_client, Event = flowai_event) and every method is one C
 * function of the same name without its prefix (Config::set_base_url calls
 * flowai_config_set_base_url; Client::connect calls flowai_client_connect). What a call
 * does, how it blocks and which thread runs what is documented once, in flowai.h; this file
 * only says how the C++ types map onto it:
 *
 * - Handles are move-only RAII objects; the destructor calls the C _free function.
 *   get() returns the C handle for calls this wrapper does not cover.
 * - A failing call throws flowai::Error (a std::runtime_error) carrying the flowai_result
 *   code and the flowai_last_error() text of that failure. Timeouts are not exceptions where
 *   they are an ordinary answer: Client::recv returns std::nullopt, Client::wait_delivered
 *   and Client::flush return false.
 * - Strings go in as std::string_view (copied to add the terminating NUL; a view that
 *   contains a NUL byte throws Error with FLOWAI_INVALID_ARGUMENT) and come out as
 *   std::string, or std::optional<std::string> where the C function may return NULL.
 * - Timeouts and intervals are std::chrono::milliseconds (anything coarser converts by
 *   itself); a negative duration counts as 0 (as in std::condition_variable::wait_for), one
 *   above UINT32_MAX ms is cut to UINT32_MAX.
 * - Booleans go in as bool and come out as bool; enums are the C enums of flowai.h.
 * - Callbacks are std::function. They must not throw: an exception escaping one ends the
 *   program with std::terminate (nothing may unwind into the library). A function given to
 *   Client::set_callback is kept alive until the Client is closed or destroyed (and a call
 *   still running then keeps its own function alive); the destructor unregisters the
 *   callback before freeing the client. Destroy a Client outside its own callback (as
 *   flowai_client_free requires).
 *
 * Thread safety is that of flowai.h: a Client may be used from many threads at once, a
 * Config or Message must not be changed from two threads at once.
 *
 * Example: examples-c/quickstart.cpp. Build with any C++17 compiler:
 *   c++ -std=c++17 app.cpp -Iinclude -Ltarget/release -lflowai_socket
 */
#ifndef FLOWAI_HPP
#define FLOWAI_HPP

#include "flowai.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowai {

/** A failed call: the flowai_result code and the flowai_last_error() text of the failure. */
class Error : public std::runtime_error {
public:
    /** An error with this code and detail text; what() is "<flowai_result_str>: <detail>". */
    Error(flowai_result code, std::string detail)
        : std::runtime_error(std::string(flowai_result_str(code)) +
                             (detail.empty() ? "" : ": " + detail)),
          code_(code), detail_(std::move(detail)) {}

    /** The error of the last failed flowai call on this thread. */
    static Error last(flowai_result code) { return Error(code, flowai_last_error()); }

    /** The result code (never FLOWAI_OK). */
    flowai_result code() const noexcept { return code_; }

    /** The detailed text (flowai_last_error() when the library failed). */
    const std::string &detail() const noexcept { return detail_; }

    /** Whether trying the same call again later may succeed (flowai_result_is_retryable). */
    bool retryable() const noexcept { return flowai_result_is_retryable(code_) == 1; }

    /** Whether retrying cannot help (flowai_result_is_final). */
    bool final() const noexcept { return flowai_result_is_final(code_) == 1; }

private:
    flowai_result code_;
    std::string detail_;
};

namespace detail {

/** Throws the last error unless `rc` is FLOWAI_OK. */
inline void check(flowai_result rc) {
    if (rc != FLOWAI_OK) {
        throw Error::last(rc);
    }
}

/** Like check(), but FLOWAI_TIMEOUT is an answer: false. */
inline bool ok_or_timeout(flowai_result rc) {
    if (rc == FLOWAI_TIMEOUT) {
        return false;
    }
    check(rc);
    return true;
}

/** A NUL-terminated copy of a string_view, alive until the end of the full expression. */
class CString {
public:
    explicit CString(std::string_view s) : s_(s) {
        if (s_.find('\0') != std::string::npos) {
            throw Error(FLOWAI_INVALID_ARGUMENT, "string argument contains a NUL byte");
        }
    }
    operator const char *() const noexcept { return s_.c_str(); }

private:
    std::string s_;
};

/** Milliseconds for a C `uint32_t ..._ms` argument: negative is 0, too large is the most. */
inline std::uint32_t to_ms(std::chrono::milliseconds d) noexcept {
    constexpr auto most = std::numeric_limits<std::uint32_t>::max();
    if (d.count() <= 0) {
        return 0;
    }
    return d.count() >= static_cast<std::chrono::milliseconds::rep>(most)
               ? most
               : static_cast<std::uint32_t>(d.count());
}

/* How each C++ argument type is handed to C (everything else passes unchanged). */
inline CString arg(std::string_view s) { return CString(s); }
inline std::uint32_t arg(std::chrono::milliseconds d) noexcept { return to_ms(d); }
inline std::int32_t arg(bool b) noexcept { return b ? 1 : 0; }
template <class T> T arg(T value) noexcept { return value; }

/** A string a C function handed over as owned: copied, then freed with flowai_string_free. */
inline std::optional<std::string> take(char *owned) {
    if (owned == nullptr) {
        return std::nullopt;
    }
    std::unique_ptr<char, decltype(&flowai_string_free)> guard(owned, &flowai_string_free);
    return std::string(owned);
}

/** A borrowed C string, copied; nullopt for NULL. */
inline std::optional<std::string> copy(const char *borrowed) {
    return borrowed ? std::optional<std::string>(borrowed) : std::nullopt;
}

/** unique_ptr deleter calling a C _free function. */
template <auto Free> struct Freer {
    template <class T> void operator()(T *p) const noexcept { Free(p); }
};

struct CallbackSlot;

} // namespace detail

/** The library version, "MAJOR.MINOR.PATCH" (flowai_version). */
inline std::string version() { return flowai_version(); }

/** The ABI version of the loaded library (flowai_abi_version). */
inline std::uint32_t abi_version() noexcept { return flowai_abi_version(); }

/** Static description of a code (flowai_result_str). */
inline std::string result_str(flowai_result code) { return flowai_result_str(code); }

/** Whether a failure with this code may go away when retried (flowai_result_is_retryable). */
inline bool result_is_retryable(flowai_result code) noexcept {
    return flowai_result_is_retryable(code) == 1;
}

/** Whether retrying a failure with this code cannot help (flowai_result_is_final). */
inline bool result_is_final(flowai_result code) noexcept {
    return flowai_result_is_final(code) == 1;
}

/** The detailed text of the last failure on this thread (flowai_last_error). */
inline std::string last_error() { return flowai_last_error(); }

/** Client settings (flowai_config). Setters return *this, so they chain. */
class Config {
public:
    /** flowai_config_new. */
    explicit Config(std::string_view client_id) {
        flowai_config *raw = nullptr;
        detail::check(flowai_config_new(detail::CString(client_id), &raw));
        handle_.reset(raw);
    }

    // One line per C setter: set(flowai_config_<name>, the C++ arguments...).
    Config &set_base_url(std::string_view url) { return set(flowai_config_set_base_url, url); }
    Config &set_thread_id(std::string_view id) { return set(flowai_config_set_thread_id, id); }
    Config &set_session_id(std::string_view id) { return set(flowai_config_set_session_id, id); }
    Config &set_origin(std::string_view origin) { return set(flowai_config_set_origin, origin); }
    Config &set_ott(std::string_view ott) { return set(flowai_config_set_ott, ott); }
    Config &set_secret(std::string_view secret) { return set(flowai_config_set_secret, secret); }
    Config &set_keepalive(std::chrono::milliseconds interval) {
        return set(flowai_config_set_keepalive_ms, interval);
    }
    Config &set_pong_timeout(std::chrono::milliseconds timeout) {
        return set(flowai_config_set_pong_timeout_ms, timeout);
    }
    Config &set_connect_timeout(std::chrono::milliseconds timeout) {
        return set(flowai_config_set_connect_timeout_ms, timeout);
    }
    Config &set_io_timeout(std::chrono::milliseconds timeout) {
        return set(flowai_config_set_io_timeout_ms, timeout);
    }
    Config &add_root_certificate_pem(std::string_view pem) {
        return set(flowai_config_add_root_certificate_pem, pem);
    }
    Config &set_max_message_size(std::size_t bytes) {
        return set(flowai_config_set_max_message_size, bytes);
    }
    Config &set_reconnect(bool on) { return set(flowai_config_set_reconnect, on); }
    Config &set_pong_events(bool on) { return set(flowai_config_set_pong_events, on); }
    Config &set_outbox(bool on) { return set(flowai_config_set_outbox, on); }
    Config &set_max_outbox(std::size_t messages) {
        return set(flowai_config_set_max_outbox, messages);
    }
    Config &set_max_queued_events(std::size_t events) {
        return set(flowai_config_set_max_queued_events, events);
    }
    Config &set_max_queued_bytes(std::size_t bytes) {
        return set(flowai_config_set_max_queued_bytes, bytes);
    }
    Config &set_proxy(std::string_view url) { return set(flowai_config_set_proxy, url); }
    Config &set_no_proxy() { return set(flowai_config_set_no_proxy); }
    Config &set_allow_insecure(bool on) { return set(flowai_config_set_allow_insecure, on); }
    Config &set_backoff(std::chrono::milliseconds min, std::chrono::milliseconds max,
                        std::uint32_t max_attempts) {
        return set(flowai_config_set_backoff, min, max, max_attempts);
    }
    Config &set_state_file(std::string_view path) {
        return set(flowai_config_set_state_file, path);
    }
    Config &set_session_policy(flowai_session_policy policy) {
        return set(flowai_config_set_session_policy, policy);
    }
    Config &set_originator_name(std::string_view name) {
        return set(flowai_config_set_originator_name, name);
    }
    Config &set_originator_role(flowai_role role) {
        return set(flowai_config_set_originator_role, role);
    }

    /** The C handle, owned by this object. */
    const flowai_config *get() const noexcept { return handle_.get(); }
    /** The C handle, owned by this object. */
    flowai_config *get() noexcept { return handle_.get(); }

private:
    template <class F, class... A> Config &set(F function, const A &...args) {
        detail::check(function(handle_.get(), detail::arg(args)...));
        return *this;
    }

    std::unique_ptr<flowai_config, detail::Freer<flowai_config_free>> handle_;
};

/** A message under construction (flowai_message). Setters return *this, so they chain. */
class Message {
public:
    /** flowai_message_new. */
    Message() : handle_(flowai_message_new()) {
        if (!handle_) {
            throw Error(FLOWAI_PANIC, "flowai_message_new failed");
        }
    }

    // One line per C setter: set(flowai_message_<name>, the C++ arguments...).
    Message &set_thread_id(std::string_view id) { return set(flowai_message_set_thread_id, id); }
    Message &set_trace_id(std::uint64_t id) { return set(flowai_message_set_trace_id, id); }
    Message &set_speech(std::string_view speech) {
        return set(flowai_message_set_speech, speech);
    }
    Message &set_originator_name(std::string_view name) {
        return set(flowai_message_set_originator_name, name);
    }
    Message &set_originator_role(flowai_role role) {
        return set(flowai_message_set_originator_role, role);
    }
    Message &set_profile_full_name(std::string_view v) {
        return set(flowai_message_set_profile_full_name, v);
    }
    Message &set_profile_first_name(std::string_view v) {
        return set(flowai_message_set_profile_first_name, v);
    }
    Message &set_profile_last_name(std::string_view v) {
        return set(flowai_message_set_profile_last_name, v);
    }
    Message &set_profile_gender(std::string_view v) {
        return set(flowai_message_set_profile_gender, v);
    }
    Message &set_profile_locale(std::string_view v) {
        return set(flowai_message_set_profile_locale, v);
    }
    Message &set_profile_country(std::string_view v) {
        return set(flowai_message_set_profile_country, v);
    }
    Message &set_profile_email(std::string_view v) {
        return set(flowai_message_set_profile_email, v);
    }
    Message &set_profile_picture(std::string_view v) {
        return set(flowai_message_set_profile_picture, v);
    }
    Message &set_profile_description(std::string_view v) {
        return set(flowai_message_set_profile_description, v);
    }
    Message &set_profile_location(std::string_view v) {
        return set(flowai_message_set_profile_location, v);
    }
    Message &set_profile_timezone(double hours_from_utc) {
        return set(flowai_message_set_profile_timezone, hours_from_utc);
    }
    Message &set_originator_metadata(std::string_view key, std::string_view value) {
        return set(flowai_message_set_originator_metadata, key, value);
    }
    Message &set_originator_metadata_json(std::string_view key, std::string_view json) {
        return set(flowai_message_set_originator_metadata_json, key, json);
    }
    Message &set_language(std::string_view v) { return set(flowai_message_set_language, v); }
    Message &set_timezone(double hours_from_utc) {
        return set(flowai_message_set_timezone, hours_from_utc);
    }
    Message &add_param(std::string_view name, std::string_view value) {
        return set(flowai_message_add_param, name, value);
    }
    Message &set_event(std::string_view name) { return set(flowai_message_set_event, name); }
    Message &set_opening_event(std::string_view name) {
        return set(flowai_message_set_opening_event, name);
    }
    Message &set_event_label(std::string_view label) {
        return set(flowai_message_set_event_label, label);
    }
    Message &set_flow(std::string_view id) { return set(flowai_message_set_flow, id); }
    Message &set_step(std::string_view id) { return set(flowai_message_set_step, id); }

    /** flowai_message_to_json. */
    std::string to_json() const {
        char *json = nullptr;
        detail::check(flowai_message_to_json(handle_.get(), &json));
        return detail::take(json).value_or("");
    }

    /** The C handle, owned by this object. */
    const flowai_message *get() const noexcept { return handle_.get(); }
    /** The C handle, owned by this object. */
    flowai_message *get() noexcept { return handle_.get(); }

private:
    template <class F, class... A> Message &set(F function, const A &...args) {
        detail::check(function(handle_.get(), detail::arg(args)...));
        return *this;
    }

    std::unique_ptr<flowai_message, detail::Freer<flowai_message_free>> handle_;
};

/**
 * An event (flowai_event): owned when it came from Client::recv or Event::copy; borrowed
 * (valid for the call only) when a callback receives it as `const Event &`.
 */
class Event {
public:
    /** flowai_event_get_kind. */
    flowai_event_kind kind() const noexcept { return flowai_event_get_kind(get()); }
    /** flowai_event_name ("connected", "delivered", "reply", ...). */
    std::string name() const { return detail::copy(flowai_event_name(get())).value_or(""); }
    /** flowai_event_thread_id; nullopt when the event has none. */
    std::optional<std::string> thread_id() const {
        return detail::copy(flowai_event_thread_id(get()));
    }
    /** flowai_event_trace_id; 0 when the event has none. */
    std::uint64_t trace_id() const noexcept { return flowai_event_trace_id(get()); }
    /** flowai_event_dropped: events not queued, for FLOWAI_EVENT_OVERFLOW; 0 otherwise. */
    std::uint64_t dropped() const noexcept { return flowai_event_dropped(get()); }
    /** flowai_event_text; nullopt for kinds without text. */
    std::optional<std::string> text() const { return detail::copy(flowai_event_text(get())); }
    /** flowai_event_json. */
    std::string json() const { return detail::copy(flowai_event_json(get())).value_or(""); }

    /** flowai_event_copy: an owned copy, e.g. to keep an event a callback received. */
    Event copy() const {
        flowai_event *raw = nullptr;
        detail::check(flowai_event_copy(get(), &raw));
        return Event(raw, true);
    }

    /** The C handle (owned by this object, or borrowed in a callback). */
    const flowai_event *get() const noexcept { return handle_.get(); }

private:
    friend class Client;
    friend struct detail::CallbackSlot;

    /** Frees owned events only: a callback's event is freed by the library. */
    struct Release {
        bool owned = true;
        void operator()(flowai_event *event) const noexcept {
            if (owned) {
                flowai_event_free(event);
            }
        }
    };

    Event(flowai_event *event, bool owned) noexcept : handle_(event, Release{owned}) {}

    std::unique_ptr<flowai_event, Release> handle_;
};

namespace detail {

/** One function given to Client::set_callback; its address is the C callback's user_data. */
struct CallbackSlot : std::enable_shared_from_this<CallbackSlot> {
    explicit CallbackSlot(std::function<void(const Event &)> f) : function(std::move(f)) {}

    /** The flowai_event_callback: runs the std::function; an exception terminates. */
    static void dispatch(void *user_data, const flowai_event *event) noexcept {
        // Held for the call: a callback replaced from inside itself may still be finishing
        // after the Client let go of it (the library does not wait for that call).
        std::shared_ptr<CallbackSlot> self =
            static_cast<CallbackSlot *>(user_data)->shared_from_this();
        const Event borrowed(const_cast<flowai_event *>(event), false);
        self->function(borrowed);
    }

    std::function<void(const Event &)> function;
};

} // namespace detail

/** A connection to Flow (flowai_client). Methods may be called from any thread. */
class Client {
public:
    /** The function type of set_callback. */
    using Callback = std::function<void(const Event &)>;

    /** flowai_client_connect: blocks until connected, throws Error on failure. */
    static Client connect(const Config &config) {
        flowai_client *raw = nullptr;
        detail::check(flowai_client_connect(config.get(), &raw));
        return Client(raw);
    }

    Client(Client &&) noexcept = default;
    Client &operator=(Client &&other) noexcept {
        if (this != &other) {
            release();
            handle_ = std::move(other.handle_);
            callbacks_ = std::move(other.callbacks_);
        }
        return *this;
    }
    ~Client() { release(); }

    /** flowai_client_send; returns the message's traceId. */
    std::uint64_t send(const Message &message) const {
        std::uint64_t trace_id = 0;
        detail::check(flowai_client_send(get(), message.get(), &trace_id));
        return trace_id;
    }
    /** flowai_client_send_json; returns the message's traceId. */
    std::uint64_t send_json(std::string_view json) const {
        std::uint64_t trace_id = 0;
        detail::check(flowai_client_send_json(get(), detail::CString(json), &trace_id));
        return trace_id;
    }
    /** flowai_client_wait_delivered; false when the timeout passed first. */
    bool wait_delivered(std::uint64_t trace_id, std::chrono::milliseconds timeout) const {
        return detail::ok_or_timeout(
            flowai_client_wait_delivered(get(), trace_id, detail::to_ms(timeout)));
    }
    /** flowai_client_flush; false when the timeout passed first. */
    bool flush(std::chrono::milliseconds timeout) const {
        return detail::ok_or_timeout(flowai_client_flush(get(), detail::to_ms(timeout)));
    }
    /** flowai_client_recv; nullopt when no event came within the timeout. */
    std::optional<Event> recv(std::chrono::milliseconds timeout) const {
        flowai_event *raw = nullptr;
        if (!detail::ok_or_timeout(flowai_client_recv(get(), detail::to_ms(timeout), &raw))) {
            return std::nullopt;
        }
        return Event(raw, true);
    }

    /**
     * flowai_client_set_callback: `callback` receives every event on the dispatcher thread;
     * an empty function unregisters. Callable from any thread, also from inside the
     * callback. Each function given here is kept until the client is closed or destroyed:
     * register once rather than once per event.
     */
    void set_callback(Callback callback) {
        if (!callback) {
            detail::check(flowai_client_set_callback(get(), nullptr, nullptr));
            return;
        }
        if (!callbacks_) {
            throw Error(FLOWAI_NULL_ARGUMENT, "set_callback on a moved-from Client");
        }
        auto slot = std::make_shared<detail::CallbackSlot>(std::move(callback));
        // Kept before registering: the dispatcher may call it before this returns.
        callbacks_->keep(slot);
        detail::check(
            flowai_client_set_callback(get(), &detail::CallbackSlot::dispatch, slot.get()));
    }

    /** flowai_client_noticed (`thread_id` "" = the configured one); true when queued. */
    bool noticed(std::string_view thread_id = "", bool instantly = false) const {
        std::int32_t queued = 0;
        detail::check(flowai_client_noticed(get(), detail::CString(thread_id),
                                            detail::arg(instantly), &queued));
        return queued == 1;
    }
    /** flowai_client_user_typing. */
    void user_typing() const { detail::check(flowai_client_user_typing(get())); }
    /** flowai_client_secret; nullopt when no nonce is known for the thread. */
    std::optional<std::string> secret(std::string_view thread_id = "") const {
        char *secret = nullptr;
        detail::check(flowai_client_secret(get(), detail::CString(thread_id), &secret));
        return detail::take(secret);
    }
    /** flowai_client_history: the server's payload as JSON text. */
    std::string history(std::string_view thread_id = "") const {
        char *json = nullptr;
        detail::check(flowai_client_history(get(), detail::CString(thread_id), &json));
        return detail::take(json).value_or("");
    }
    /** flowai_client_unnoticed. */
    bool unnoticed(std::string_view thread_id = "") const {
        std::int32_t unnoticed = 0;
        detail::check(flowai_client_unnoticed(get(), detail::CString(thread_id), &unnoticed));
        return unnoticed == 1;
    }
    /** flowai_client_merge ("" = the configured thread / session). */
    void merge(std::string_view merger_key, std::string_view thread_id = "",
               std::string_view session_id = "") const {
        detail::check(flowai_client_merge(get(), detail::CString(merger_key),
                                          detail::CString(thread_id),
                                          detail::CString(session_id)));
    }
    /** flowai_client_upload with an empty message; returns the answer's JSON. */
    std::string upload(std::string_view path) const { return upload_with(path, nullptr); }
    /** flowai_client_upload; returns the answer's JSON. */
    std::string upload(std::string_view path, const Message &message) const {
        return upload_with(path, message.get());
    }

    /** flowai_client_is_connected. */
    bool is_connected() const noexcept { return flowai_client_is_connected(get()) == 1; }
    /** flowai_client_pending. */
    std::size_t pending() const noexcept { return flowai_client_pending(get()); }
    /** flowai_client_thread_id. */
    std::string thread_id() const {
        return detail::copy(flowai_client_thread_id(get())).value_or("");
    }
    /** flowai_client_session_id. */
    std::string session_id() const {
        return detail::copy(flowai_client_session_id(get())).value_or("");
    }
    /** flowai_client_close (idempotent; the destructor frees, which also closes). */
    void close() {
        detail::check(flowai_client_close(get()));
        // No callback call starts any more; one still running holds its own function.
        callbacks_->clear();
    }

    /** The C handle, owned by this object. */
    const flowai_client *get() const noexcept { return handle_.get(); }

private:
    /** The functions given to set_callback, kept while the library may call them. */
    class Callbacks {
    public:
        void keep(std::shared_ptr<detail::CallbackSlot> slot) {
            std::lock_guard<std::mutex> lock(lock_);
            slots_.push_back(std::move(slot));
        }
        void clear() {
            std::vector<std::shared_ptr<detail::CallbackSlot>> gone; // freed after unlocking
            std::lock_guard<std::mutex> lock(lock_);
            gone.swap(slots_);
        }
        bool empty() {
            std::lock_guard<std::mutex> lock(lock_);
            return slots_.empty();
        }

    private:
        std::mutex lock_;
        std::vector<std::shared_ptr<detail::CallbackSlot>> slots_;
    };

    explicit Client(flowai_client *raw)
        : handle_(raw), callbacks_(std::make_unique<Callbacks>()) {}

    std::string upload_with(std::string_view path, const flowai_message *message) const {
        char *json = nullptr;
        detail::check(flowai_client_upload(get(), detail::CString(path), message, &json));
        return detail::take(json).value_or("");
    }

    /** Unregisters the callback, frees the client, then the functions it may have called. */
    void release() noexcept {
        if (handle_ && callbacks_ && !callbacks_->empty()) {
            flowai_client_set_callback(handle_.get(), nullptr, nullptr);
        }
        handle_.reset();
        callbacks_.reset();
    }

    std::unique_ptr<flowai_client, detail::Freer<flowai_client_free>> handle_;
    std::unique_ptr<Callbacks> callbacks_;
};

/** The function type of set_log_callback: level, target (Rust module), message. */
using LogCallback =
    std::function<void(flowai_log_level level, std::string_view target, std::string_view message)>;

namespace detail {

struct LogState {
    std::mutex lock;                // serialises set_log_callback
    LogCallback *current = nullptr; // never freed at exit: a library thread may still log
};

/** True on a thread while it runs the log callback. */
inline thread_local bool in_log_callback = false;

inline LogState &log_state() {
    static LogState *state = new LogState();
    return *state;
}

/** The flowai_log_callback: runs the std::function; an exception terminates. */
inline void log_dispatch(void *user_data, std::uint32_t level, const char *target,
                         const char *message) noexcept {
    in_log_callback = true;
    (*static_cast<LogCallback *>(user_data))(static_cast<flowai_log_level>(level),
                                              target ? target : "", message ? message : "");
    in_log_callback = false;
}

} // namespace detail

/**
 * flowai_set_log_callback: the library's log records up to `max_level` go to `callback`
 * (an empty function, or FLOWAI_LOG_OFF, turns logging off). Process-wide; the function
 * replaced is freed when this returns. Not from inside the log callback.
 */
inline void set_log_callback(LogCallback callback, flowai_log_level max_level) {
    if (detail::in_log_callback) {
        // Refused by the library too; checked first, since waiting for the lock here could
        // wait for this very callback to return.
        throw Error(FLOWAI_INVALID_STATE, "set_log_callback called from inside the log callback");
    }
    detail::LogState &state = detail::log_state();
    std::unique_ptr<LogCallback> next;
    if (callback) {
        next = std::make_unique<LogCallback>(std::move(callback));
    }
    std::lock_guard<std::mutex> lock(state.lock);
    detail::check(flowai_set_log_callback(next ? &detail::log_dispatch : nullptr, next.get(),
                                          static_cast<std::uint32_t>(max_level)));
    // The library guarantees the old callback is no longer running: free it.
    std::unique_ptr<LogCallback> old(state.current);
    state.current = next.release();
}

} // namespace flowai

#endif /* FLOWAI_HPP */
