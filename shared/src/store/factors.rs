//! The records of second factors and passkeys: what an account has enrolled, the sign-ins
//! waiting for their second factor, and the WebAuthn challenges in flight.
//!
//! An account that has any factor (an authenticator app or a passkey) needs two to sign in:
//! a password or mailed code alone leaves a [`PendingSignIn`]. A passkey with user
//! verification is two factors by itself (something held, unlocked by something known or
//! being). The [`FactorSummary`] on the user record says which, so sign-in needs no extra read.

use crate::clock::UnixTime;
use crate::token::{TokenHash, UserId};

/// What second factors an account has: kept on the user record, and changed only in the same
/// atomic write as the factors themselves, so it never disagrees with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactorSummary {
    /// Whether an authenticator app (TOTP) is turned on.
    pub totp: bool,
    /// How many passkeys are registered.
    pub passkeys: u32,
}

impl FactorSummary {
    /// Whether the account has no second factor: a password (or mailed code, or identity
    /// provider) alone signs it in.
    pub fn is_empty(self) -> bool {
        !self.totp && self.passkeys == 0
    }
}

/// A non-secret identifier of an enrolled factor (16 random bytes, base64url), shown in lists
/// and named by rename and delete.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FactorId(String);

impl FactorId {
    /// A new random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(FactorId(crate::crypto::b64url(
            &crate::crypto::random_array::<16>()?,
        )))
    }

    /// An id as stored or as a client sent it back; it names nothing unless a store finds it.
    pub fn from_stored(s: String) -> Self {
        FactorId(s)
    }

    /// The id as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An authenticator app between enrolment and its first correct code: one per user (a new
/// enrolment replaces the last), ten minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpEnrolment {
    /// Whose it is.
    pub user_id: UserId,
    /// The secret, encrypted under the data keys (`data_keys::DataKeyRing::encrypt`, purpose
    /// `totp-enrolment`, bound to the user id). Random nonces make each enrolment's value unique,
    /// so it also names this enrolment among those the user has had.
    pub encrypted_secret: String,
    /// When it lapses: from then on it reads as absent. Also the TTL.
    pub expires_at: UnixTime,
}

/// An authenticator app (RFC 6238) turned on for an account: at most one per user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// Whose it is.
    pub user_id: UserId,
    /// The secret, encrypted under the data keys (purpose `totp-secret`, bound to the user id):
    /// it must be read back to check a code, so it cannot be a hash.
    pub encrypted_secret: String,
    /// The last time step accepted. A code is accepted only for a later step (set by
    /// compare-and-set), so a code works once and an older one never after a newer one.
    pub last_step: Option<u64>,
    /// When it was turned on.
    pub created_at: UnixTime,
    /// When a code from it last signed in.
    pub last_used_at: Option<UnixTime>,
}

/// A user's recovery codes, as `recovery::RecoveryCode::hash` (SHA-256 bound to the account):
/// ten, shown once, each single use. One record per user, so a new set replaces the old at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodes {
    /// Whose they are.
    pub user_id: UserId,
    /// The hashes of the codes not yet used.
    pub code_hashes: Vec<TokenHash>,
    /// When the set was made.
    pub created_at: UnixTime,
}

/// A WebAuthn credential id: opaque bytes the authenticator chose, at most 1023 of them
/// (WebAuthn L3 §5.1), unique across all accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialId(Vec<u8>);

impl CredentialId {
    /// The longest credential id WebAuthn allows.
    pub const MAX_LEN: usize = 1023;

    /// The id, unless it is empty or longer than [`CredentialId::MAX_LEN`].
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (!bytes.is_empty() && bytes.len() <= Self::MAX_LEN).then_some(CredentialId(bytes))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A fixed-length key for the id, for stores that key by it.
    pub fn key(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// A registered passkey (WebAuthn public-key credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    /// Whose it is; also the WebAuthn user handle its authenticator holds.
    pub user_id: UserId,
    /// Our id for it, in lists.
    pub id: FactorId,
    /// The authenticator's id for it.
    pub credential_id: CredentialId,
    /// The COSE_Key as the authenticator sent it at registration.
    pub public_key: Vec<u8>,
    /// The last signature counter seen: a later assertion must show a greater one, unless
    /// both are 0 (the authenticator keeps no counter).
    pub sign_count: u32,
    /// The transports the browser reported (`usb`, `nfc`, `ble`, `internal`, `hybrid`…),
    /// echoed back in `allowCredentials`.
    pub transports: Vec<String>,
    /// Flag BE at registration: the credential may be synced to other devices.
    pub backup_eligible: bool,
    /// Flag BS as last seen: the credential is synced.
    pub backed_up: bool,
    /// The name the user gave it (at most 64 characters).
    pub name: String,
    /// When it was registered.
    pub created_at: UnixTime,
    /// When it last signed in.
    pub last_used_at: Option<UnixTime>,
}

/// What [`Store::add_passkey`](super::Store::add_passkey) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyInsert {
    /// The passkey (and the recovery codes, if given) is stored and counted on the user.
    Inserted,
    /// The credential id is registered already (to this account or another): nothing written.
    CredentialTaken,
    /// Recovery codes were given for a first factor, but the account has a factor now (another
    /// request added one), or the user is gone: nothing written. Read the user and try again.
    FactorsChanged,
}

/// How the first factor of a pending sign-in was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstFactor {
    /// The account's password.
    Password,
    /// A one-time code mailed to the account's address.
    EmailCode,
    /// An identity provider (with `AUTHFN_MFA_FOR_FEDERATED`).
    Federated,
}

/// A sign-in whose first factor passed and whose second has not yet: what the pending-sign-in
/// token names. It is not a session: only the second-factor endpoints accept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    /// SHA-256 of the pending token: the record's key; the token itself is never stored.
    pub token_hash: TokenHash,
    /// Who is signing in.
    pub user_id: UserId,
    /// The user's `session_epoch` at the first factor: "sign out everywhere" voids it too.
    pub user_epoch: u64,
    /// How the first factor was proven.
    pub first_factor: FirstFactor,
    /// Wrong second factors so far; at the limit the record is deleted.
    pub failures: u32,
    /// When the first factor passed.
    pub created_at: UnixTime,
    /// When it lapses (five minutes on). Also the TTL.
    pub expires_at: UnixTime,
}

/// What a WebAuthn challenge was issued for: the ceremony that may take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// Registering a passkey for this signed-in user.
    Register {
        /// The user registering.
        user_id: UserId,
        /// Their `session_epoch` then: "sign out everywhere" voids the ceremony.
        user_epoch: u64,
    },
    /// Signing in with a discoverable passkey, no user named beforehand.
    SignIn,
    /// The second factor of this pending sign-in (by its token hash).
    SecondFactor {
        /// The pending sign-in's token hash.
        pending: TokenHash,
    },
}

/// A WebAuthn challenge we issued: 32 random bytes, stored as their SHA-256, single use,
/// five minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAuthnChallenge {
    /// SHA-256 of the challenge bytes: the record's key.
    pub challenge_hash: TokenHash,
    /// Which ceremony may take it.
    pub purpose: CeremonyPurpose,
    /// When it lapses. Also the TTL.
    pub expires_at: UnixTime,
}
