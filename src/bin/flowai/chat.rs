//! `flowai chat` (being written).

/// Flags of `flowai chat`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("flowai chat is not built yet".into())
}
