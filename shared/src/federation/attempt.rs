//! The secrets of one federated sign-in: `state`, the browser binding, and the PKCE verifier
//! and nonce derived from the binding.
//!
//! `state` travels through the provider in URLs, so it is only half of a lookup key. The
//! binding is 32 random bytes that never leave the browser's HttpOnly cookie and authfn. The
//! attempt is stored under a hash of both ([`attempt_key`]): a callback URL replayed into
//! someone else's browser (login CSRF) finds nothing, and, since it finds nothing, cannot
//! consume the attempt either: a leaked callback URL cannot be burnt by whoever holds it. The PKCE verifier and the nonce are one-way derivations of the
//! binding, so no secret is stored at all, and an intercepted authorization response (code +
//! state) is still useless without the cookie.

use crate::crypto::{self, b64url, sha256};
use crate::secret::secret_type;
use crate::token::TokenHash;

const VERIFIER_CONTEXT: &[u8] = b"authfn/federation/pkce-verifier\0";
const NONCE_CONTEXT: &[u8] = b"authfn/federation/nonce\0";

secret_type!(
    /// Random value sent as `state`; the attempt record is keyed by its hash.
    pub struct State(String);
);

secret_type!(
    /// Random value held only in the browser's binding cookie.
    pub struct Binding(String);
);

secret_type!(
    /// The authorization code a provider sent back: exchanged once for the ID token.
    pub struct AuthorizationCode(String);
);

impl AuthorizationCode {
    /// The `code` of a callback.
    pub fn presented(value: &str) -> Self {
        AuthorizationCode(value.to_owned())
    }
}

secret_type!(
    /// RFC 7636 `code_verifier`, sent once in the code exchange.
    pub struct PkceVerifier(String);
);

secret_type!(
    /// The OpenID `nonce` of one sign-in: sent in the authorization request, checked in the
    /// ID token.
    pub struct Nonce(String);
);

impl State {
    /// A fresh random `state` for a new sign-in.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(State(b64url(&crypto::random_array::<32>()?)))
    }

    /// A `state` as it came back, if it could be one of ours (bounded base64url).
    pub fn presented(value: &str) -> Option<Self> {
        is_b64url(value).then(|| State(value.to_owned()))
    }
}

impl Binding {
    /// A fresh random binding for a new sign-in.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Binding(b64url(&crypto::random_array::<32>()?)))
    }

    /// A binding cookie's value, if it could be one of ours (bounded base64url).
    pub fn presented(value: &str) -> Option<Self> {
        is_b64url(value).then(|| Binding(value.to_owned()))
    }

    /// A one-way digest of the binding: the only form of it a store may keep.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }

    /// RFC 7636 `code_verifier`: 43 characters of base64url (256 bits).
    pub fn pkce_verifier(&self) -> PkceVerifier {
        PkceVerifier(b64url(&sha256(
            &[VERIFIER_CONTEXT, self.0.as_bytes()].concat(),
        )))
    }

    /// RFC 7636 S256 `code_challenge` of [`Binding::pkce_verifier`].
    pub fn pkce_challenge(&self) -> String {
        b64url(&sha256(self.pkce_verifier().0.as_bytes()))
    }

    /// The OpenID `nonce` for this sign-in, derived so that only this browser's cookie yields it.
    pub fn nonce(&self) -> Nonce {
        Nonce(b64url(&sha256(
            &[NONCE_CONTEXT, self.0.as_bytes()].concat(),
        )))
    }
}

fn is_b64url(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The store key of an attempt: SHA-256 of `state` and the binding. Neither contains a NUL,
/// so the separator makes the pair unambiguous.
pub fn attempt_key(state: &State, binding: &Binding) -> TokenHash {
    TokenHash::of(&[state.0.as_bytes(), b"\0", binding.0.as_bytes()].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values_are_distinct_and_stable() {
        let b = Binding::generate().unwrap();
        assert_eq!(b.pkce_verifier().secret().len(), 43);
        assert_ne!(b.pkce_verifier().secret(), b.nonce().secret());
        assert!(
            b.nonce()
                .ct_eq(&Binding::presented(b.secret()).unwrap().nonce())
        );
        assert!(!b.nonce().ct_eq(&Binding::generate().unwrap().nonce()));
    }

    #[test]
    fn challenge_is_s256_of_the_verifier() {
        // RFC 7636 appendix B's example.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            b64url(&sha256(verifier.as_bytes())),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn the_attempt_key_needs_both_the_state_and_the_binding() {
        let (state, binding) = (State::generate().unwrap(), Binding::generate().unwrap());
        let key = attempt_key(&state, &binding);
        assert_eq!(
            key,
            attempt_key(
                &State::presented(state.secret()).unwrap(),
                &Binding::presented(binding.secret()).unwrap()
            )
        );
        assert_ne!(key, attempt_key(&state, &Binding::generate().unwrap()));
        assert_ne!(key, attempt_key(&State::generate().unwrap(), &binding));
        // Only what we could have issued is looked up at all.
        for bad in ["", "a b", "a\0b", "a.b", &"x".repeat(129)] {
            assert!(
                State::presented(bad).is_none() && Binding::presented(bad).is_none(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let (s, b) = (State::generate().unwrap(), Binding::generate().unwrap());
        assert_eq!(format!("{s:?}"), "State([redacted])");
        assert_eq!(
            format!("{b:?} {:?} {:?}", b.pkce_verifier(), b.nonce()),
            "Binding([redacted]) PkceVerifier([redacted]) Nonce([redacted])"
        );
    }
}
