//! Where to connect: `--base-url`/`--client-id`, else `FLOWAI_BASE_URL`/`FLOWAI_CLIENT_ID`,
//! else an embedded emulator started for this run.

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Config, Error};
use std::time::Duration;

/// Connection flags shared by the commands that talk to Flow.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// Flow base URL [env: FLOWAI_BASE_URL; default: the public service, sdk.flow.ai]
    #[arg(long)]
    pub base_url: Option<String>,
    /// Flow clientId; without one an embedded emulator is started [env: FLOWAI_CLIENT_ID]
    #[arg(long)]
    pub client_id: Option<String>,
    /// HTTP proxy for every connection, loopback included: `http://host:port`, with
    /// `user:password@` before the host for Basic auth [default: HTTPS_PROXY / HTTP_PROXY /
    /// ALL_PROXY / NO_PROXY, never for loopback]
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Connect directly, ignoring the proxy environment variables
    #[arg(long)]
    pub no_proxy: bool,
    /// Seconds a connect may take, retries of refused or reset attempts included [default:
    /// the library's 10]
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,
}

/// A resolved target; keeps the embedded emulator (if any) alive while it lives.
pub struct Target {
    pub config: Config,
    pub emulator: Option<Emulator>,
}

impl TargetArgs {
    /// Resolves flags, then environment, then an embedded emulator.
    pub fn resolve(&self) -> Result<Target, Box<dyn std::error::Error>> {
        let from_env = Config::from_env();
        let config = match (&self.client_id, from_env) {
            (Some(id), _) => Some(Config::new(id)),
            (None, env) => env,
        };
        let (config, emulator) = match config {
            Some(config) => (config, None),
            None => {
                let emulator = Emulator::start(EmulatorConfig::default())?;
                eprintln!(
                    "flowai: no clientId given; using an embedded emulator at {}",
                    emulator.base_url()
                );
                (
                    Config::new("local-emulator").base_url(emulator.base_url()),
                    Some(emulator),
                )
            }
        };
        let config = match &self.base_url {
            Some(url) => config.base_url(url),
            None => config,
        };
        let config = match (&self.proxy, self.no_proxy) {
            (Some(url), _) => config.proxy(url),
            (None, true) => config.no_proxy(),
            (None, false) => config,
        };
        let config = match self.connect_timeout {
            Some(secs) => config.connect_timeout(
                Duration::try_from_secs_f64(secs)
                    .map_err(|e| Error::Config(format!("--connect-timeout {secs}: {e}")))?,
            ),
            None => config,
        };
        Ok(Target { config, emulator })
    }
}
