//! Password policy and argon2id hashing.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::crypto;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// Bounds hashing work per request: argon2 input is cheap, but parsing and copying a
/// megabyte-long "password" is not, and no person types one.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A password as typed. `Debug` never shows it.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// The policy for new passwords.
    pub fn new_for_sign_up(raw: String) -> Result<Self, &'static str> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err("password must be at least 8 characters");
        }
        Self::presented(raw)
    }

    /// A password presented at sign-in: only the size bound applies, so changing the policy
    /// never locks out an existing user.
    pub fn presented(raw: String) -> Result<Self, &'static str> {
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err("password must be at most 1024 bytes");
        }
        if raw.is_empty() {
            return Err("password is required");
        }
        Ok(Password(raw))
    }
}

/// A PHC-format argon2id hash (`$argon2id$v=19$m=…`), as stored on the user record.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PasswordHashString(String);

impl std::fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashString(..)")
    }
}

impl PasswordHashString {
    pub fn from_stored(s: String) -> Self {
        PasswordHashString(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// argon2id cost. Defaults are OWASP's first recommendation: m = 19 MiB, t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Cost {
    fn default() -> Self {
        Argon2Cost { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

#[derive(Debug)]
pub enum HashError {
    Randomness,
    Argon2(String),
}

/// Hashes and verifies passwords at one configured cost.
#[derive(Clone)]
pub struct PasswordHasherConfig {
    argon2: Argon2<'static>,
    /// A well-formed hash of no password, at the configured cost. Verifying an unknown user's
    /// password against it costs exactly one argon2id run, the same as a real user's, so the
    /// response time does not tell whether an account exists. Its output bytes are random,
    /// not a hash of anything, so building it costs nothing at cold start.
    dummy: String,
}

impl PasswordHasherConfig {
    pub fn new(cost: Argon2Cost) -> Result<Self, String> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = crypto::random_array::<16>().map_err(|e| e.to_string())?;
        let output = crypto::random_array::<32>().map_err(|e| e.to_string())?;
        let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, b);
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            cost.memory_kib,
            cost.iterations,
            cost.parallelism,
            b64(&salt),
            b64(&output)
        );
        Ok(PasswordHasherConfig { argon2, dummy })
    }

    pub fn hash(&self, password: &Password) -> Result<PasswordHashString, HashError> {
        let salt_bytes = crypto::random_array::<16>().map_err(|_| HashError::Randomness)?;
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashError::Argon2(e.to_string()))?;
        let hash = self
            .argon2
            .hash_password(password.0.as_bytes(), &salt)
            .map_err(|e| HashError::Argon2(e.to_string()))?;
        Ok(PasswordHashString(hash.to_string()))
    }

    /// Verifies against the stored hash, or against the dummy when there is no user, so both
    /// paths do the same work. The comparison inside argon2 is constant-time.
    pub fn verify(&self, password: &Password, stored: Option<&PasswordHashString>) -> bool {
        let (phc, real) = match stored {
            Some(h) => (h.as_str(), true),
            None => (self.dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        // Verify with the parameters stored in the hash, so raising the cost later still
        // accepts older hashes.
        let ok = self.argon2.verify_password(password.0.as_bytes(), &parsed).is_ok();
        ok && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasherConfig {
        PasswordHasherConfig::new(Argon2Cost { memory_kib: 64, iterations: 1, parallelism: 1 }).unwrap()
    }

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = cheap();
        let pw = Password::new_for_sign_up("correct horse".into()).unwrap();
        let stored = h.hash(&pw).unwrap();
        assert!(stored.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h.verify(&pw, Some(&stored)));
        let wrong = Password::presented("correct horsf".into()).unwrap();
        assert!(!h.verify(&wrong, Some(&stored)));
    }

    #[test]
    fn dummy_hash_parses_and_never_matches() {
        let h = cheap();
        assert!(PasswordHash::new(&h.dummy).is_ok());
        let pw = Password::presented("anything".into()).unwrap();
        assert!(!h.verify(&pw, None));
    }

    #[test]
    fn policy_bounds() {
        assert!(Password::new_for_sign_up("short".into()).is_err());
        assert!(Password::new_for_sign_up("ééééééé".into()).is_err()); // 7 chars, 14 bytes
        assert!(Password::new_for_sign_up("éééééééé".into()).is_ok());
        assert!(Password::new_for_sign_up("a".repeat(1025)).is_err());
        assert!(Password::new_for_sign_up("a".repeat(1024)).is_ok());
    }

    #[test]
    fn default_cost_is_owasp() {
        assert_eq!(Argon2Cost::default(), Argon2Cost { memory_kib: 19_456, iterations: 2, parallelism: 1 });
    }
}
