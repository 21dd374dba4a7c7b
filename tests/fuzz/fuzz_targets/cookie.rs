//! The session cookie's value as an attacker controls it. Properties: parsing never panics,
//! and the only value accepted for a token is the exact one authfn issued for it (no second
//! spelling: other base64 padding, case, or trailing bits), so a cookie cannot be
//! re-encoded to dodge a deny-list or a log search. Two keys, so a value tagged with the
//! previous key is explored too.
#![no_main]

use std::sync::OnceLock;

use authfn::crypto::{HmacKey, KeyRing, b64url};
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

/// The `v1.` spelling of `token` under `ring`'s signing key (values from before the user id
/// rode along, which still verify): no API makes them any more.
fn v1(token: &SessionToken, ring: &KeyRing) -> String {
    let tag = ring.sign(b"authfn/session/v1\0", token.secret());
    format!("v1.{}.{}", b64url(token.secret()), b64url(&tag))
}

fuzz_target!(|presented: &str| {
    let (ring, old_ring) = keys();
    if let Some(session) = SessionToken::verify(presented, ring) {
        let canonical: Vec<String> = match &session.user {
            Some(user) => [ring, old_ring]
                .iter()
                .map(|r| session.token.sign(user, r).secret().clone())
                .collect(),
            None => [ring, old_ring].iter().map(|r| v1(&session.token, r)).collect(),
        };
        assert!(
            canonical.iter().any(|signed| signed == presented),
            "accepted a non-canonical spelling of a session token"
        );
    }
});
