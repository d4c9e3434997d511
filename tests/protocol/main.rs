//! The wire format: every frame encoded and decoded, and properties of the decoder.

#[path = "../common/mod.rs"]
mod common;

mod decode_properties;
mod roundtrip;
