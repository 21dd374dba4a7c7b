//! Device cookies (OWASP's defence against lockout abuse): a signed cookie, issued at every
//! successful sign-in, that names the account it signed in to. At sign-in, a client that
//! presents a valid one for the account it names gets its own small budget of attempts and is
//! locked alone; every other client shares the account's budget. So guessing from anywhere can
//! lock the account only for clients that never signed in to it, and its owner keeps working.
//!
//! Non-browser clients (`session_delivery: token`) have no cookie jar: they get the same value
//! as `device_token` in the body and may send it back as `device_token` at sign-in.

use std::time::Duration;

use crate::clock::UnixTime;
use crate::crypto::{self, KeyRing};
use crate::token::{TokenHash, UserId};

/// Domain separation: a tag made for a device cookie is valid for nothing else.
const DEVICE_TAG_CONTEXT: &[u8] = b"authfn/device/v1\0";
const SIGNED_PREFIX: &str = "d1.";

/// How long a device stays trusted after its last successful sign-in: each one issues a new
/// cookie. The expiry is inside the signed value, so a copied cookie does not live forever.
pub const DEVICE_LIFETIME: Duration = Duration::from_secs(180 * 24 * 60 * 60);

/// A device's claim to have signed in to one account: the account's user id, a random nonce
/// that gives this device its own lockout counter, and an expiry.
#[derive(Clone)]
pub struct DeviceToken {
    user_id: UserId,
    nonce: [u8; 16],
    expires_at: UnixTime,
}

impl std::fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceToken([redacted])")
    }
}

impl DeviceToken {
    /// A fresh device token for `user_id`, valid for the device lifetime from `now`.
    pub fn issue(user_id: &UserId, now: UnixTime) -> Result<Self, getrandom::Error> {
        Ok(DeviceToken {
            user_id: user_id.clone(),
            nonce: crypto::random_array()?,
            expires_at: now.plus(DEVICE_LIFETIME),
        })
    }

    /// The signed part: every field, with separators no field can contain.
    fn message(user_id: &str, nonce: &str, expires_at: i64) -> String {
        format!("{user_id}.{nonce}.{expires_at}")
    }

    /// `d1.<user id>.<nonce>.<expiry>.<tag>`: base64url, digits and dots, cookie-safe.
    pub fn sign(&self, keys: &KeyRing) -> SignedDeviceToken {
        let message = Self::message(
            self.user_id.as_str(),
            &crypto::b64url(&self.nonce),
            self.expires_at.0,
        );
        let tag = keys.sign(DEVICE_TAG_CONTEXT, message.as_bytes());
        SignedDeviceToken(format!("{SIGNED_PREFIX}{message}.{}", crypto::b64url(&tag)))
    }

    /// A presented value whose tag verifies under any key of the ring and that has not expired.
    pub fn verify(presented: &str, keys: &KeyRing, now: UnixTime) -> Option<Self> {
        let rest = presented.strip_prefix(SIGNED_PREFIX)?;
        let (message, tag) = rest.rsplit_once('.')?;
        let tag = crypto::b64url_decode(tag)?;
        if !keys.verify(DEVICE_TAG_CONTEXT, message.as_bytes(), &tag) {
            return None;
        }
        let mut parts = message.split('.');
        let (user_id, nonce, expires_at) = (parts.next()?, parts.next()?, parts.next()?);
        let nonce: [u8; 16] = crypto::b64url_decode(nonce)?.try_into().ok()?;
        let expires_at = UnixTime(expires_at.parse().ok()?);
        (parts.next().is_none() && crate::store::is_live(expires_at, now)).then(|| DeviceToken {
            user_id: UserId::from_stored(user_id.to_owned()),
            nonce,
            expires_at,
        })
    }

    /// Whether this device signed in to `user` (a cookie for another account counts for
    /// nothing).
    pub fn is_for(&self, user: &UserId) -> bool {
        crypto::constant_time_eq(self.user_id.as_str().as_bytes(), user.as_str().as_bytes())
    }

    /// What the device's lockout counter is keyed by: a hash, so the store holds nothing a
    /// reader could present as a device cookie.
    pub fn counter_id(&self) -> TokenHash {
        TokenHash::of(&self.nonce)
    }
}

crate::secret::secret_type!(
    /// A signed device token as sent to a client: the device cookie's value.
    pub struct SignedDeviceToken(String);
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::HmacKey;

    fn ring(b: u8) -> KeyRing {
        KeyRing::new(HmacKey::new(vec![b; 32]).unwrap(), vec![])
    }

    const NOW: UnixTime = UnixTime(1_800_000_000);

    #[test]
    fn a_signed_device_token_round_trips_until_it_expires() {
        let user = UserId::generate().unwrap();
        let token = DeviceToken::issue(&user, NOW).unwrap();
        let signed = token.sign(&ring(1));
        let back = DeviceToken::verify(signed.secret(), &ring(1), NOW).unwrap();
        assert!(back.is_for(&user) && !back.is_for(&UserId::generate().unwrap()));
        assert_eq!(back.counter_id(), token.counter_id());
        let last = NOW.plus(DEVICE_LIFETIME - Duration::from_secs(1));
        assert!(DeviceToken::verify(signed.secret(), &ring(1), last).is_some());
        assert!(
            DeviceToken::verify(signed.secret(), &ring(1), NOW.plus(DEVICE_LIFETIME)).is_none()
        );
    }

    #[test]
    fn forged_and_tampered_device_tokens_are_refused() {
        let user = UserId::generate().unwrap();
        let signed = DeviceToken::issue(&user, NOW).unwrap().sign(&ring(1));
        assert!(DeviceToken::verify(signed.secret(), &ring(2), NOW).is_none());
        let other = UserId::generate().unwrap();
        let swapped = signed.secret().replace(user.as_str(), other.as_str());
        assert!(DeviceToken::verify(&swapped, &ring(1), NOW).is_none());
        let later = signed
            .secret()
            .replace(&NOW.plus(DEVICE_LIFETIME).0.to_string(), "9999999999");
        assert!(DeviceToken::verify(&later, &ring(1), NOW).is_none());
        for junk in ["", "d1.", "d1.a.b.c.d", "v1.abc.def"] {
            assert!(DeviceToken::verify(junk, &ring(1), NOW).is_none(), "{junk}");
        }
        // A session tag never passes as a device tag.
        let session = crate::token::SessionToken::generate()
            .unwrap()
            .sign(&crate::token::UserId::generate().unwrap(), &ring(1));
        assert!(DeviceToken::verify(session.secret(), &ring(1), NOW).is_none());
        assert_eq!(format!("{signed:?}"), "SignedDeviceToken([redacted])");
    }
}
