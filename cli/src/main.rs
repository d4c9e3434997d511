//! `flowai`: send a message, chat with a bot, run the local emulator, or benchmark, from the
//! terminal. Without `--client-id` (or `FLOWAI_CLIENT_ID`) the commands that talk to Flow start
//! the embedded emulator and talk to it.

mod bench;
mod chat;
mod emulator_cmd;
mod send;
mod target;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Command-line client and local server for the Flow Socket API.
#[derive(Parser)]
#[command(name = "flowai", version, about)]
struct Cli {
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
    let cli = Cli::parse();
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
            ExitCode::FAILURE
        }
    }
}
