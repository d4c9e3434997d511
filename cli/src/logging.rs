//! The log records of the library and of `flowai` on stderr: `-v` shows connect and
//! reconnect attempts as they happen, `-vv` each connection phase, `-vvv` our trace records
//! too. Other crates stay at warn (info with `-vvv`): the WebSocket library's debug and trace
//! records dump raw frames, nonces included. `RUST_LOG` (env_logger syntax, e.g.
//! `RUST_LOG=flowai_socket=debug`) replaces what the flags choose. Without either, only
//! errors are logged.

use log::LevelFilter;

/// The crates whose records `-v` and `-vv` show.
const OURS: [&str; 3] = ["flowai_socket", "flowai_emulator", "flowai"];

/// Installs the logger for `verbosity` (the count of `-v`), unless `RUST_LOG` is set.
pub fn init(verbosity: u8) {
    let mut builder = env_logger::Builder::new();
    builder.format_timestamp_millis();
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            builder.parse_filters(&spec);
        }
        _ => {
            let (ours, others) = match verbosity {
                0 => (LevelFilter::Error, LevelFilter::Error),
                1 => (LevelFilter::Info, LevelFilter::Warn),
                2 => (LevelFilter::Debug, LevelFilter::Warn),
                _ => (LevelFilter::Trace, LevelFilter::Info),
            };
            builder.filter_level(others);
            for name in OURS {
                builder.filter_module(name, ours);
            }
        }
    }
    // Fails only when a logger is already installed, which nothing in `flowai` does.
    let _ = builder.try_init();
}
