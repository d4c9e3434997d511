//! `flowai`: send a message, chat with a bot, run the local emulator, or benchmark, from the
//! terminal. Without `--client-id` (or `FLOWAI_CLIENT_ID`) the commands that talk to Flow start
//! the embedded emulator and talk to it.
//!
//! The exit status tells the failure class (see `exit.rs`): 0 success, 1 other, 2 usage,
//! 3 config, 4 rejected, 5 network or timeout, 6 protocol.

mod bench;
mod chat;
mod emulator_cmd;
mod exit;
mod logging;
mod send;
mod target;

use clap::{Parser, Subcommand};
use exit::Class;
use std::process::ExitCode;

/// Command-line client and local server for the Flow Socket API.
#[derive(Parser)]
#[command(name = "flowai", version, about)]
struct Cli {
    /// Log connect and reconnect attempts (-v), every connection phase (-vv), everything
    /// (-vvv) on stderr; RUST_LOG replaces these when set
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connect, send one message, print the events as JSON lines until the reply.
    Send(send::Args),
    /// Chat with a bot interactively (or from piped stdin).
    Chat(chat::Args),
    /// Run the local Flow emulator.
    Emulator(emulator_cmd::Args),
    /// Measure connect time, round trip, throughput, memory and close time.
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not failures.
            let status = if e.use_stderr() {
                Class::USAGE.exit_code()
            } else {
                ExitCode::SUCCESS
            };
            let _ = e.print();
            return status;
        }
    };
    logging::init(cli.verbose);
    let result = match cli.command {
        Command::Send(args) => send::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Emulator(args) => emulator_cmd::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowai: {e}");
            Class::of(e.as_ref()).exit_code()
        }
    }
}
