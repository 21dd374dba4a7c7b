//! The session cookie's value as an attacker controls it. Properties: parsing never panics,
//! and the only value accepted for a token is the exact one authfn issued for it (no second
//! spelling: other base64 padding, case, or trailing bits), so a cookie cannot be
//! re-encoded to dodge a deny-list or a log search. Two keys, so a value tagged with the
//! previous key is explored too.
#![no_main]

use std::sync::OnceLock;

use authfn::crypto::{HmacKey, KeyRing};
use authfn::token::SessionToken;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static (KeyRing, KeyRing) {
    static KEYS: OnceLock<(KeyRing, KeyRing)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let current = || HmacKey::new(vec![7; 32]).expect("32-byte key");
        let previous = || HmacKey::new(vec![9; 32]).expect("32-byte key");
        (KeyRing::new(current(), vec![previous()]), KeyRing::new(previous(), Vec::new()))
    })
}

fuzz_target!(|presented: &str| {
    let (ring, old_ring) = keys();
    if let Some(token) = SessionToken::verify(presented, ring) {
        let canonical = [token.sign(ring), token.sign(old_ring)];
        assert!(
            canonical.iter().any(|signed| signed.secret() == presented),
            "accepted a non-canonical spelling of a session token"
        );
    }
});
