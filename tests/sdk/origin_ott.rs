//! The `origin` option (WebSocket `Origin` header) and the one-time token `ott`
//! (`x-flowai-ott` on `socket.info`), as the emulator sees them.

use crate::common;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config};
use std::time::Duration;

#[test]
fn origin_and_ott_are_sent() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let cfg = Config::new("origin-test")
            .base_url(emu.base_url())
            .origin("https://my.site")
            .ott("one-time-token");
        let _c = Client::connect(cfg).unwrap();
        assert_eq!(emu.last_origin().as_deref(), Some("https://my.site"));
        let info = emu.last_socket_info().unwrap();
        assert_eq!(info.ott.as_deref(), Some("one-time-token"));
        assert_eq!(info.header("x-flowai-ott"), Some("one-time-token"));
        assert_eq!(info.header("x-flowai-clientid"), Some("origin-test"));
    });
}

#[test]
fn without_them_nothing_is_sent() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let _c = Client::connect(Config::new("origin-test").base_url(emu.base_url())).unwrap();
        assert_eq!(emu.last_origin(), None);
        let info = emu.last_socket_info().unwrap();
        assert_eq!(info.ott, None);
        assert_eq!(info.header("x-flowai-ott"), None);
    });
}

#[test]
fn an_origin_that_is_not_a_header_value_is_a_config_error() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let cfg = Config::new("origin-test")
            .base_url(emu.base_url())
            .origin("bad\norigin");
        let err = Client::connect(cfg).unwrap_err();
        assert!(matches!(err, flowai_socket::Error::Config(_)), "{err}");
    });
}
