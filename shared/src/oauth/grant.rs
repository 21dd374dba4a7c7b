//! The opaque secrets the token issuer hands to clients: refresh tokens and device codes.
//! Each is 32 random bytes, base64url; the store only ever sees its hash.

use crate::clock::UnixTime;
use crate::crypto::{b64url, random_array};
use crate::secret::secret_type;
use crate::token::TokenHash;

secret_type!(
    /// A refresh token: handed out once, presented once (each use rotates it).
    pub struct RefreshToken(String);
);

impl RefreshToken {
    /// A fresh token.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(RefreshToken(b64url(&random_array::<32>()?)))
    }

    /// A token as a client presented it.
    pub fn presented(value: &str) -> Self {
        RefreshToken(value.to_owned())
    }

    /// How the store knows it.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }
}

secret_type!(
    /// An RFC 8628 device code: `<expiry>.<secret>`. The expiry in the clear only decides
    /// between two refusals once the record is gone (expired or unknown).
    pub struct DeviceCode(String);
);

impl DeviceCode {
    /// A fresh code that says it expires at `expires_at`.
    pub fn generate(expires_at: UnixTime) -> Result<Self, getrandom::Error> {
        Ok(DeviceCode(format!(
            "{}.{}",
            expires_at.0,
            b64url(&random_array::<32>()?)
        )))
    }

    /// A code as a device presented it.
    pub fn presented(value: &str) -> Self {
        DeviceCode(value.to_owned())
    }

    /// How the store knows it.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }

    /// When the code says it expires, if it says so at all.
    pub fn stated_expiry(&self) -> Option<UnixTime> {
        self.0
            .split_once('.')
            .and_then(|(t, _)| t.parse::<i64>().ok())
            .map(UnixTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_secrets_never_show_in_debug_and_are_stored_as_hashes() {
        let refresh = RefreshToken::generate().unwrap();
        let device = DeviceCode::generate(UnixTime(1_800_000_000)).unwrap();
        assert_eq!(
            format!("{refresh:?} {device:?}"),
            "RefreshToken([redacted]) DeviceCode([redacted])"
        );
        assert_eq!(
            refresh.hash(),
            RefreshToken::presented(refresh.secret()).hash()
        );
        assert_eq!(device.stated_expiry(), Some(UnixTime(1_800_000_000)));
        assert_eq!(DeviceCode::presented("junk").stated_expiry(), None);
    }
}
