//! `flowai emulator`: run the local Flow emulator until interrupted.

use flowai_emulator::{Emulator, EmulatorConfig};
use std::time::Duration;

/// Flags of `flowai emulator`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Seconds without a frame before the emulator closes a connection.
    #[arg(long, default_value_t = 50)]
    idle_timeout: u64,
    /// Require the thread's nonce in every message.send.
    #[arg(long)]
    require_nonce: bool,
    /// Acknowledge messages but send no bot reply (for benchmarks).
    #[arg(long)]
    no_reply: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = EmulatorConfig::default()
        .port(args.port)
        .idle_timeout(Duration::from_secs(args.idle_timeout))
        .require_nonce(args.require_nonce)
        .reply(!args.no_reply);
    let emulator = Emulator::start(config)?;
    println!("flowai emulator listening on {}", emulator.base_url());
    println!(
        "try: FLOWAI_CLIENT_ID=local FLOWAI_BASE_URL={} cargo run --example quickstart",
        emulator.base_url()
    );
    loop {
        std::thread::park();
    }
}
