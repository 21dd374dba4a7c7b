//! Typed secrets and identifiers. A [`SessionToken`] is not a `String`: it can only be made
//! from randomness or from a cookie whose HMAC tag verified, and it is stored only as its
//! [`TokenHash`].

use crate::crypto::{self, KeyRing};
use crate::secret::secret_type;

/// Domain separation for the cookie tag, so a tag made for sessions is valid for nothing else.
const SESSION_TAG_CONTEXT: &[u8] = b"authfn/session/v1\0";
/// The same for `v2.` session values, whose tag also covers the user id.
const SESSION_USER_TAG_CONTEXT: &[u8] = b"authfn/session/v2\0";
const SIGNED_PREFIX: &str = "v1.";
const SIGNED_USER_PREFIX: &str = "v2.";

secret_type!(
    /// The secret half of a session: 32 random bytes, known only to the browser (in an HttpOnly
    /// cookie) or to a non-browser client (as a Bearer token).
    pub struct SessionToken([u8; 32]);
);

impl SessionToken {
    /// A fresh token from the operating system's randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(SessionToken(crypto::random_array()?))
    }

    /// The form the store keeps the session under.
    pub fn hash(&self) -> TokenHash {
        TokenHash(crypto::sha256(&self.0))
    }

    /// `v2.<token>.<user>.<tag>`, all base64url: the value of the cookie and of a Bearer
    /// token. The user id rides under the tag so that a session check can ask the store for
    /// the session and its user at once, in one round trip, instead of reading the session to
    /// learn whose it is. It is no secret: the session endpoint shows it to its user.
    pub fn sign(&self, user: &UserId, keys: &KeyRing) -> SignedToken {
        let tag = keys.sign(
            SESSION_USER_TAG_CONTEXT,
            &user_tagged(&self.0, user.as_str()),
        );
        SignedToken(format!(
            "{SIGNED_USER_PREFIX}{}.{}.{}",
            crypto::b64url(&self.0),
            user.as_str(),
            crypto::b64url(&tag)
        ))
    }

    /// Parses a presented value and checks its tag. A forged or tampered value is rejected
    /// here, before any store read. `v1.` values, signed before the user id rode along, still
    /// verify (without a user) until the last of them has passed its absolute lifetime.
    pub fn verify(presented: &str, keys: &KeyRing) -> Option<PresentedSession> {
        if let Some(rest) = presented.strip_prefix(SIGNED_USER_PREFIX) {
            let mut parts = rest.split('.');
            let (token, user, tag) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || !is_b64url_id(user) {
                return None;
            }
            let token: [u8; 32] = crypto::b64url_decode(token)?.try_into().ok()?;
            let tag = crypto::b64url_decode(tag)?;
            return keys
                .verify(SESSION_USER_TAG_CONTEXT, &user_tagged(&token, user), &tag)
                .then(|| PresentedSession {
                    token: SessionToken(token),
                    user: Some(UserId::from_stored(user.to_owned())),
                });
        }
        verify_bytes(SESSION_TAG_CONTEXT, presented, keys).map(|token| PresentedSession {
            token: SessionToken(token),
            user: None,
        })
    }
}

/// A presented session value whose tag verified: the token, and the user it was issued to
/// when the value names one (`v2.`).
#[derive(Debug)]
pub struct PresentedSession {
    /// The session's token.
    pub token: SessionToken,
    /// The user the value was signed for; `None` for a `v1.` value.
    pub user: Option<UserId>,
}

/// What a `v2.` tag covers: the token (always 32 bytes, so the boundary is unambiguous), then
/// the user id.
fn user_tagged(token: &[u8; 32], user: &str) -> Vec<u8> {
    [token.as_slice(), user.as_bytes()].concat()
}

/// Whether `s` can be an id of ours: base64url, of a sane length.
fn is_b64url_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Domain separation for the pending-sign-in tag: a session token never verifies as a pending
/// sign-in, nor the other way round, even though both are 32 bytes under the same keys.
const PENDING_TAG_CONTEXT: &[u8] = b"authfn/pending-sign-in/v1\0";

secret_type!(
    /// The secret naming a sign-in whose first factor passed and whose second has not yet:
    /// 32 random bytes, in a short-lived HttpOnly cookie (or the body, for token clients). It
    /// is not a session: only the second-factor endpoints accept it.
    pub struct PendingToken([u8; 32]);
);

impl PendingToken {
    /// A fresh token from the operating system's randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(PendingToken(crypto::random_array()?))
    }

    /// The form the store keeps the pending sign-in under.
    pub fn hash(&self) -> TokenHash {
        TokenHash(crypto::sha256(&self.0))
    }

    /// `v1.<token>.<tag>`, all base64url, tagged for pending sign-ins only.
    pub fn sign(&self, keys: &KeyRing) -> SignedToken {
        sign_bytes(PENDING_TAG_CONTEXT, &self.0, keys)
    }

    /// Parses a presented value and checks its tag, before any store read.
    pub fn verify(presented: &str, keys: &KeyRing) -> Option<Self> {
        verify_bytes(PENDING_TAG_CONTEXT, presented, keys).map(PendingToken)
    }
}

fn sign_bytes(context: &[u8], token: &[u8; 32], keys: &KeyRing) -> SignedToken {
    let tag = keys.sign(context, token);
    SignedToken(format!(
        "{SIGNED_PREFIX}{}.{}",
        crypto::b64url(token),
        crypto::b64url(&tag)
    ))
}

fn verify_bytes(context: &[u8], presented: &str, keys: &KeyRing) -> Option<[u8; 32]> {
    let rest = presented.strip_prefix(SIGNED_PREFIX)?;
    let (token, tag) = rest.split_once('.')?;
    let token: [u8; 32] = crypto::b64url_decode(token)?.try_into().ok()?;
    let tag = crypto::b64url_decode(tag)?;
    keys.verify(context, &token, &tag).then_some(token)
}

secret_type!(
    /// A signed session token as sent to a client: the cookie's value, or the Bearer token.
    pub struct SignedToken(String);
);

/// SHA-256 of a secret token: the only form in which a token reaches the store.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// SHA-256 of `bytes`: how every secret-bearing value is stored.
    pub fn of(bytes: &[u8]) -> Self {
        TokenHash(crypto::sha256(bytes))
    }

    /// Rebuilds a hash read back from the store.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(TokenHash(out))
    }

    /// The digest's bytes, for comparing in constant time.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex: how the hash is written to the store.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({})", &self.to_hex()[..8])
    }
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// 128 random bits, base64url: unguessable, so ids leak nothing and collide never.
            pub fn generate() -> Result<Self, getrandom::Error> {
                Ok($name(crypto::b64url(&crypto::random_array::<16>()?)))
            }

            /// Rebuilds an id read back from the store.
            pub fn from_stored(s: String) -> Self {
                $name(s)
            }

            /// The id as stored and shown.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

random_id!(
    /// A user's stable identifier.
    UserId
);
random_id!(
    /// A session's public identifier: safe to show and log, unlike its token.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::HmacKey;

    fn ring() -> KeyRing {
        KeyRing::new(HmacKey::new(vec![7; 32]).unwrap(), vec![])
    }

    fn user() -> UserId {
        UserId::from_stored("dXNlci1vbmUtaWQtMTIzNA".into())
    }

    #[test]
    fn a_pending_token_never_verifies_as_a_session_token_nor_the_reverse() {
        let pending = PendingToken::generate().unwrap().sign(&ring());
        assert!(PendingToken::verify(pending.secret(), &ring()).is_some());
        assert!(SessionToken::verify(pending.secret(), &ring()).is_none());
        let session = SessionToken::generate().unwrap().sign(&user(), &ring());
        assert!(PendingToken::verify(session.secret(), &ring()).is_none());
    }

    #[test]
    fn signed_token_round_trips_with_its_user() {
        let t = SessionToken::generate().unwrap();
        let signed = t.sign(&user(), &ring());
        let back = SessionToken::verify(signed.secret(), &ring()).unwrap();
        assert!(back.token.ct_eq(&t));
        assert_eq!(back.user, Some(user()));
    }

    #[test]
    fn a_v1_value_still_verifies_without_a_user() {
        let t = SessionToken::generate().unwrap();
        let v1 = sign_bytes(SESSION_TAG_CONTEXT, t.secret(), &ring());
        let back = SessionToken::verify(v1.secret(), &ring()).unwrap();
        assert!(back.token.ct_eq(&t));
        assert_eq!(back.user, None);
    }

    #[test]
    fn the_user_cannot_be_swapped_under_the_tag() {
        let signed = SessionToken::generate().unwrap().sign(&user(), &ring());
        let parts: Vec<&str> = signed.secret().split('.').collect();
        let other = UserId::generate().unwrap();
        let swapped = format!("v2.{}.{}.{}", parts[1], other, parts[3]);
        assert!(SessionToken::verify(&swapped, &ring()).is_none());
        // Nor can a v2 tag pass as a v1 one over the same token.
        let as_v1 = format!("v1.{}.{}", parts[1], parts[3]);
        assert!(SessionToken::verify(&as_v1, &ring()).is_none());
        let extra = format!("{}.x", signed.secret());
        assert!(SessionToken::verify(&extra, &ring()).is_none());
    }

    #[test]
    fn tampered_tokens_are_rejected() {
        let signed = SessionToken::generate().unwrap().sign(&user(), &ring());
        let s = signed.secret();
        // Flip one character of the token part.
        let mut chars: Vec<char> = s.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(SessionToken::verify(&tampered, &ring()).is_none());
        assert!(SessionToken::verify("v1.abc.def", &ring()).is_none());
        assert!(SessionToken::verify("", &ring()).is_none());
        let other = KeyRing::new(HmacKey::new(vec![8; 32]).unwrap(), vec![]);
        assert!(SessionToken::verify(s, &other).is_none());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let t = SessionToken::generate().unwrap();
        let signed = t.sign(&user(), &ring());
        assert_eq!(format!("{t:?}"), "SessionToken([redacted])");
        assert_eq!(format!("{signed:?}"), "SignedToken([redacted])");
        assert!(!format!("{signed:?}").contains(&signed.secret()[3..10]));
    }
}
