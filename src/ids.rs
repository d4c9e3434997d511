//! Session and thread ids made like the official SDK's.

use base64::Engine;

/// 32 random lowercase hex characters (128 bits).
pub fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to time and address entropy, still unique enough.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes = (t ^ (&bytes as *const _ as usize as u128)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The channel id inside a clientId (base64 of `projectId|channelId`), if it decodes.
pub fn channel_id(client_id: &str) -> Option<String> {
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let bytes = engines
        .iter()
        .find_map(|e| e.decode(client_id.trim()).ok())?;
    let text = String::from_utf8(bytes).ok()?;
    let (project, channel) = text.split_once('|')?;
    (!project.is_empty() && !channel.is_empty() && !channel.contains('|'))
        .then(|| channel.to_string())
}

/// A new threadId: 32 random hex, then `|channelId` when the clientId carries one.
pub fn thread_id_for(client_id: &str) -> String {
    match channel_id(client_id) {
        Some(channel) => format!("{}|{channel}", random_hex()),
        None => random_hex(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_is_32_distinct_hex_chars() {
        let a = random_hex();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_hex());
    }

    #[test]
    fn thread_id_carries_the_channel_of_a_base64_client_id() {
        let client_id = base64::engine::general_purpose::STANDARD.encode("proj123|chan456");
        let t = thread_id_for(&client_id);
        assert!(t.ends_with("|chan456"), "{t}");
        assert_eq!(t.len(), 32 + 1 + "chan456".len());
        assert_eq!(thread_id_for("not base64 !").len(), 32);
    }
}
