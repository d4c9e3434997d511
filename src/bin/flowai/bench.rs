//! `flowai bench` (being written).

/// Flags of `flowai bench`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("flowai bench is not built yet".into())
}
