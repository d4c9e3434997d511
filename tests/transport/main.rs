//! The transport: one deadline over every phase of a connect, failure classes, TLS and its
//! verification, insecure mode, proxies, no panic escaping a client thread.

#[path = "../common/mod.rs"]
mod common;

mod deadline;
mod failure_classes;
mod insecure;
mod no_panic;
mod proxy_connect;
mod tls;
mod tls_verification;
