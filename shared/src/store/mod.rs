//! The storage boundary. Methods are shaped by what must be atomic, not by tables, so each
//! backend can use its own strongly consistent primitive (DynamoDB conditional writes and
//! transactions, an in-process mutex, a Durable Object…).
//!
//! Every record carries an expiry; reads take `now` and treat expired records as absent,
//! because DynamoDB and KV delete expired items lazily (DynamoDB: up to days later).

use crate::clock::UnixTime;
use crate::email::Email;
use crate::events::{ActivityCursor, ActivityEntry};
use crate::password::PasswordHashString;
use crate::protocol::{ClientId, Scope};
use crate::token::{SessionId, TokenHash, UserId};

#[cfg(all(feature = "workers", target_arch = "wasm32"))]
pub mod cloudflare;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(any(feature = "dynamodb", all(feature = "workers", target_arch = "wasm32")))]
mod encoding;
pub mod factors;
pub mod memory;
pub mod usage;

pub use factors::{
    CeremonyPurpose, CredentialId, FactorId, FactorSummary, FirstFactor, Passkey, PasskeyInsert,
    PendingSignIn, RecoveryCodes, TotpEnrolment, TotpFactor, WebAuthnChallenge,
};
pub use memory::MemoryStore;

/// An account: who it is, how it signs in, and which of its sessions still count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The account's stable identifier, which every other record refers to.
    pub id: UserId,
    /// The normalised address; unique across users (stores key it by [`Email::hash`]).
    pub email: Email,
    /// `None` for users who only ever signed in through an identity provider.
    pub password_hash: Option<PasswordHashString>,
    /// When the account was made.
    pub created_at: UnixTime,
    /// Whether the address has been proven: by a mailed link or code, or by an identity
    /// provider that says it verified it. Only a proven address may be linked to by email.
    pub email_verified: bool,
    /// Bumped by "sign out everywhere". A session is valid only while it carries the user's
    /// current epoch, so revoking every session is one conditional write, immediately
    /// consistent, however many session records exist.
    pub session_epoch: u64,
    /// The second factors it has (absent on records older than factors: none). Written in the
    /// same atomic write as the factors, so sign-in knows what to ask for from this record.
    pub factors: FactorSummary,
}

/// A browser session, stored under the hash of its cookie token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// A non-secret identifier of the session, safe to show and log.
    pub id: SessionId,
    /// SHA-256 of the session token: the record's key; the token itself is never stored.
    pub token_hash: TokenHash,
    /// The signed-in user.
    pub user_id: UserId,
    /// The user's `session_epoch` when the session began: it counts only while they match.
    pub user_epoch: u64,
    /// When the session began.
    pub created_at: UnixTime,
    /// When the user last proved every factor the account requires, in this session's sign-in
    /// (or a later re-authentication, which starts a new session): sensitive changes need it
    /// recent (step-up). Absent on records older than factors: `created_at`.
    pub authenticated_at: UnixTime,
    /// Absolute end of the session, however active it is.
    pub expires_at: UnixTime,
    /// End of the session if it stays idle. Also the record's TTL.
    pub idle_expires_at: UnixTime,
    /// When `idle_expires_at` was last pushed forward: the session's "last seen", to within
    /// the renewal interval.
    pub renewed_at: UnixTime,
    /// The client that signed in, as the user sees it in their session list: a browser and OS
    /// family ("Chrome on macOS", [`crate::events::coarse_user_agent`]). Absent on records
    /// older than session lists, and when the client sent no `User-Agent`.
    pub device: Option<String>,
    /// The network it signed in from, coarsened ([`crate::network::coarse`]: a /24 or /64).
    /// Absent on older records and when the address could not be read.
    pub network: Option<String>,
}

/// A user's account at an upstream OpenID provider: `sub` is unique only within its issuer,
/// and an email address is not an identity (it can change hands), so this pair is the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FederatedIdentity {
    /// The provider's issuer identifier (the ID token's `iss`).
    pub issuer: String,
    /// The account's `sub` at that issuer.
    pub subject: String,
}

impl FederatedIdentity {
    /// A fixed-length key for the pair (both parts are IdP-chosen and unbounded in length).
    pub fn key(&self) -> TokenHash {
        let mut bytes = Vec::with_capacity(self.issuer.len() + self.subject.len() + 1);
        bytes.extend_from_slice(self.issuer.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(self.subject.as_bytes());
        TokenHash::of(&bytes)
    }
}

/// The server-side half of one federated sign-in in progress. It holds no secret: the PKCE
/// verifier and the nonce are derived from the browser-binding value, which only the browser's
/// cookie carries (see `federation::attempt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationAttempt {
    /// SHA-256 of the `state` and the browser binding together (`attempt::attempt_key`): only
    /// a request that carries both can find, and so consume, the attempt.
    pub key: TokenHash,
    /// The one-way digest of the browser binding (`Binding::hash`), checked against the cookie.
    pub binding_hash: TokenHash,
    /// The configured name of the provider the sign-in went to.
    pub provider: String,
    /// Where to send the browser once signed in: one of the configured allowed URLs.
    pub return_to: String,
    /// Whether the client asked for a JSON answer instead of a redirect at the end.
    pub wants_json: bool,
    /// When the attempt lapses: a callback after this finds nothing.
    pub expires_at: UnixTime,
}

/// Where a device authorization (RFC 8628) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for a user to enter the code and answer.
    Pending,
    /// `user_epoch` is the approving user's `session_epoch` at the approval: "sign out
    /// everywhere" after approving a phished code stops the device from getting tokens.
    Approved {
        /// The user who approved, and whom the device's tokens will be for.
        user_id: UserId,
        /// That user's `session_epoch` at the approval.
        user_epoch: u64,
    },
    /// The user refused: the device's polls are answered `access_denied`.
    Denied,
    /// Approved, and its tokens have been issued: it can issue none again.
    Consumed,
}

/// One device authorization grant in progress, keyed by SHA-256 of its device code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// SHA-256 of the device code: the record's key; the code itself is never stored.
    pub device_code_hash: TokenHash,
    /// The user code, keyed-hashed (`oauth::user_code::UserCodeKey`): whoever reads the store
    /// cannot type a pending code into their own session.
    pub user_code_hash: TokenHash,
    /// The OAuth client the device runs.
    pub client_id: ClientId,
    /// The scope the device asked for, and its tokens will carry.
    pub scope: Scope,
    /// Whether the user has answered, and how.
    pub status: DeviceStatus,
    /// Current polling interval; `slow_down` adds 5 s.
    pub interval: std::time::Duration,
    /// The device's last poll, `None` before its first: polls closer than `interval` slow it down.
    pub last_polled_at: Option<UnixTime>,
    /// When the codes lapse: after it the record reads as absent and its user code is free.
    pub expires_at: UnixTime,
    /// Bumped by every update; updates are compare-and-swap on it.
    pub version: u64,
    /// When the device asked, and from which network (coarse: a /24 or /64): the device page
    /// shows both, so a user can tell a request they did not start (RFC 8628 §5.4).
    pub created_at: UnixTime,
    /// The requesting network, coarse (a /24 or /64), never a full address.
    pub requested_from: String,
}

/// A refresh token, stored as its hash. Every rotation makes a new one in the same family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the refresh token: the record's key; the token itself is never stored.
    pub token_hash: TokenHash,
    /// The random id shared by every token rotated from one grant: revocation is per family.
    pub family_id: String,
    /// The user the tokens are for.
    pub user_id: UserId,
    /// The client the tokens were issued to; only it may refresh them.
    pub client_id: ClientId,
    /// The scope granted; a refresh may narrow it, never widen it.
    pub scope: Scope,
    /// The user's `session_epoch` when the family began: "sign out everywhere" bumps that,
    /// which ends every refresh-token family too, with no per-family write.
    pub user_epoch: u64,
    /// `false` once rotated: presenting it again is reuse.
    pub active: bool,
    /// This token's own end (never past the family's).
    pub expires_at: UnixTime,
    /// The family's absolute end, carried by every token in it.
    pub family_expires_at: UnixTime,
}

/// What [`Store::rotate_refresh_token`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The old token was active: it is now rotated and the new one stored.
    Rotated,
    /// The old token had been rotated already, is gone, or its family is revoked: nothing
    /// was written.
    AlreadyUsed,
}

/// A counter inside a window that ends at `expires_at`: rate limits, sign-in failures, locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Events counted in the window so far.
    pub count: u64,
    /// The window's end: from then on the counter reads as absent.
    pub expires_at: UnixTime,
}

/// The key of a [`Counter`]. Built only by the constructors below, so the key spaces of
/// different limits cannot collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterKey(String);

impl CounterKey {
    /// Requests to one rate-limited `bucket` (an endpoint group) from one client (an address).
    pub fn rate_limit(bucket: &str, client: &str) -> Self {
        CounterKey(format!("rate#{bucket}#{client}"))
    }

    /// Sign-in attempts at an address from clients without its device cookie. Keyed by the
    /// address, not the user, so a lock looks the same whether or not an account exists.
    pub fn sign_in_attempts(email: &Email) -> Self {
        CounterKey(format!("signin#{}", email.hash().to_hex()))
    }

    /// Sign-in attempts from one device (by the hash of its device cookie's nonce).
    pub fn device_sign_in_attempts(device: &TokenHash) -> Self {
        CounterKey(format!("signin-device#{}", device.to_hex()))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Mails sent to one address (by its hash, never the address), whatever they were for:
    /// nobody can mail-bomb an address through authfn.
    pub fn mail_to(email: &Email) -> Self {
        CounterKey(format!("mail#{}", email.hash().to_hex()))
    }

    /// Wrong second factors for one account from clients without its device cookie: an
    /// attacker who has the password cannot grind codes by opening new pending sign-ins.
    pub fn factor_attempts(user_id: &UserId) -> Self {
        CounterKey(format!("factor#{}", user_id.as_str()))
    }

    /// Wrong second factors for one account from one device (by its device cookie's nonce
    /// hash): the account's owner is not locked out by someone else's guessing.
    pub fn device_factor_attempts(user_id: &UserId, device: &TokenHash) -> Self {
        CounterKey(format!(
            "factor-device#{}#{}",
            user_id.as_str(),
            device.to_hex()
        ))
    }

    /// Failed authentications as a confidential OAuth client, from one network.
    pub fn client_auth_failures(client_id: &str, network: &str) -> Self {
        CounterKey(format!("client-failures#{client_id}#{network}"))
    }
}

/// The key of an [`EmailChallenge`]: what it is for, and whose it is. One live challenge per
/// key, so a new mail voids the one before it. Built only by the constructors below.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChallengeKey(String);

impl ChallengeKey {
    /// A sign-up waiting for its address to be proven: keyed by the address, so a newer sign-up
    /// for it replaces an older one and nobody can hold an address by signing up first.
    pub fn sign_up(email: &Email) -> Self {
        ChallengeKey(format!("verify#{}", email.hash().to_hex()))
    }

    /// A password reset for the account with this address.
    pub fn password_reset(email: &Email) -> Self {
        ChallengeKey(format!("reset#{}", email.hash().to_hex()))
    }

    /// A one-time sign-in code for the account with this address.
    pub fn sign_in_code(email: &Email) -> Self {
        ChallengeKey(format!("code#{}", email.hash().to_hex()))
    }

    /// A change of this user's address, proven at the new address: keyed by the user, so a
    /// second change voids the first whatever address it was to.
    pub fn email_change(user_id: &UserId) -> Self {
        ChallengeKey(format!("change-email#{}", user_id.as_str()))
    }

    /// A key as stored; only stores call this, with a value a constructor above made.
    pub fn from_stored(s: String) -> Self {
        ChallengeKey(s)
    }

    /// The key as stored. It never holds an address, only its hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What proving a mailed challenge does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeAction {
    /// Creates this account (the sign-up's id and password hash, made when it was asked for).
    SignUp {
        /// The id the new account will have.
        user_id: UserId,
        /// The password chosen at sign-up, hashed then.
        password_hash: PasswordHashString,
    },
    /// Lets the account set a new password.
    ResetPassword {
        /// The account whose password is reset.
        user_id: UserId,
    },
    /// Signs the account in.
    SignIn {
        /// The account signed in.
        user_id: UserId,
    },
    /// Moves the account to the challenge's address.
    ChangeEmail {
        /// The account whose address changes.
        user_id: UserId,
    },
}

/// A mailed secret waiting to be proven: a 32-byte link token and a 6-digit code, both stored
/// only as hashes, for one [`ChallengeAction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChallenge {
    /// Whose challenge it is and what for: one live challenge per key.
    pub key: ChallengeKey,
    /// The address the mail went to (for an email change, the new address).
    pub email: Email,
    /// SHA-256 of the link token. Also names this challenge among those its key has had: a
    /// replaced challenge is not found by it.
    pub token_hash: TokenHash,
    /// The code, keyed-hashed (`mailed::code_hash`): six digits fall to a plain hash at once.
    pub code_hash: TokenHash,
    /// Wrong codes presented so far; at the limit the challenge is deleted.
    pub failures: u32,
    /// What proving it does.
    pub action: ChallengeAction,
    /// When it was mailed.
    pub created_at: UnixTime,
    /// When it lapses: from then on it reads as absent.
    pub expires_at: UnixTime,
}

impl EmailChallenge {
    /// The proof that names this challenge (and no later one under its key).
    pub fn proof(&self) -> ChallengeProof {
        ChallengeProof {
            key: self.key.clone(),
            token_hash: self.token_hash,
        }
    }
}

/// One particular challenge: its key and its token hash. A write that takes a challenge takes
/// it only if it is still this one, live, under its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeProof {
    /// The challenge's key.
    pub key: ChallengeKey,
    /// Its link token's hash.
    pub token_hash: TokenHash,
}

/// What [`Store::complete_sign_up`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUpOutcome {
    /// The challenge was taken, and the user and its first session written.
    Created,
    /// The challenge is gone (used, replaced, expired): nothing was written.
    ChallengeGone,
    /// The address (or the user id) has an account already: nothing was written, and the
    /// challenge is left for the caller to take.
    EmailTaken,
}

/// What [`Store::change_email`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailChange {
    /// The challenge was taken and the user now has its address, proven.
    Changed,
    /// The challenge (or the user) is gone: nothing was written.
    ChallengeGone,
    /// Another account has the new address: nothing was written, and the challenge is left
    /// for the caller to take.
    EmailTaken,
}

/// What a write that must not overwrite did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// The record was new and is now stored.
    Inserted,
    /// A record with that key (or unique value) was there already: nothing was written.
    AlreadyExists,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or refused the request. Nothing was written
    /// (or the write was atomic and failed as a whole); the caller answers 503. The cause
    /// says which call and why, for the log; it never holds the service's own message, which
    /// can quote the request.
    #[error("store unavailable")]
    Unavailable(#[source] crate::error::Cause),
    /// A record that must exist did not, or a stored record could not be decoded: names the
    /// record or field, never its value.
    #[error("store record unreadable: {0}")]
    Corrupt(String),
}

/// The result of every [`Store`] operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Workers' futures are not `Send` (JavaScript is single-threaded); native ones must be.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Store: Send + Sync {
    /// Creates the user and their first session in one atomic write, unless the email is
    /// taken. Of two concurrent sign-ups with one email exactly one gets `Inserted`.
    async fn create_user(
        &self,
        user: &UserRecord,
        first_session: &SessionRecord,
    ) -> StoreResult<Insert>;

    /// Like [`Store::create_user`], for a user who arrives through an identity provider: the
    /// user, the identity's link to it and the first session are written together, unless the
    /// email or the identity is taken.
    async fn create_federated_user(
        &self,
        user: &UserRecord,
        identity: &FederatedIdentity,
        first_session: &SessionRecord,
    ) -> StoreResult<Insert>;

    /// The user an identity is linked to.
    async fn user_by_identity(
        &self,
        identity: &FederatedIdentity,
    ) -> StoreResult<Option<UserRecord>>;

    /// Links an identity to an existing user, unless it is linked already.
    async fn link_identity(
        &self,
        identity: &FederatedIdentity,
        user_id: &UserId,
    ) -> StoreResult<Insert>;

    /// Stores a federated sign-in attempt under its key.
    async fn put_federation_attempt(&self, attempt: &FederationAttempt) -> StoreResult<()>;

    /// Deletes the attempt and returns it if it was live: of two concurrent takers exactly one
    /// gets it, so a `state` is consumed once.
    async fn take_federation_attempt(
        &self,
        key: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<FederationAttempt>>;

    /// Stores a new device authorization unless a live one already has its user code.
    async fn create_device_authorization(
        &self,
        auth: &DeviceAuthorization,
        now: UnixTime,
    ) -> StoreResult<Insert>;

    /// The live device authorization with this device code hash.
    async fn device_authorization(
        &self,
        device_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>>;

    /// The live device authorization with this user code hash.
    async fn device_authorization_by_user_code(
        &self,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>>;

    /// Replaces the authorization if its stored version is still `auth.version - 1`: of two
    /// concurrent updates from one read, exactly one lands. Returns whether this one did.
    async fn update_device_authorization(&self, auth: &DeviceAuthorization) -> StoreResult<bool>;

    /// Records the user's answer (`Approved` or `Denied`) if the authorization is live and
    /// still pending, whatever polls changed meanwhile: a poll never makes an answer fail.
    /// Bumps the version, so a poll's update from an older read cannot overwrite the answer.
    /// Of two concurrent answers exactly one lands; returns whether this one did.
    async fn decide_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        decision: &DeviceStatus,
        now: UnixTime,
    ) -> StoreResult<bool>;

    /// Stores a new refresh token under its hash.
    async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()>;

    /// The refresh token with this hash, active or rotated, unless expired.
    async fn refresh_token(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshTokenRecord>>;

    /// Marks `old` rotated and stores `new`, atomically, if `old` is still active and its
    /// family (`new.family_id`) is not revoked: of many concurrent rotations of one token
    /// exactly one gets `Rotated`, and none after the family's revocation.
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshTokenRecord,
    ) -> StoreResult<Rotation>;

    /// Revokes every token of a family, until `until` (its absolute end).
    async fn revoke_token_family(&self, family_id: &str, until: UnixTime) -> StoreResult<()>;

    /// Whether the family has a revocation that lasts past `now`.
    async fn is_token_family_revoked(&self, family_id: &str, now: UnixTime) -> StoreResult<bool>;

    /// The user with this address.
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>>;

    /// The user with this id.
    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<UserRecord>>;

    /// Stores a new session under its token hash.
    async fn put_session(&self, session: &SessionRecord) -> StoreResult<()>;

    /// The session with this token hash, unless it is past `idle_expires_at` or `expires_at`.
    async fn session(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>>;

    /// The meter this store counts its calls into, if it counts (a store over the network
    /// does; the in-memory one has nothing to count).
    fn usage(&self) -> Option<&usage::UsageMeter> {
        None
    }

    /// The live session under `token_hash` if it is `user`'s, with `user`'s record: what a
    /// session check needs, in as few round trips as the store can manage (one on DynamoDB;
    /// one KV read and one D1 query, made together, on Cloudflare). `None` when either is
    /// missing, the session is past a deadline (as [`Store::session`]) or is another user's.
    /// The caller still compares the epochs.
    async fn session_and_user(
        &self,
        token_hash: &TokenHash,
        user: &UserId,
        now: UnixTime,
    ) -> StoreResult<Option<(SessionRecord, UserRecord)>> {
        let Some(session) = self.session(token_hash, now).await? else {
            return Ok(None);
        };
        if session.user_id != *user {
            return Ok(None);
        }
        Ok(self.user_by_id(user).await?.map(|user| (session, user)))
    }

    /// Pushes the idle deadline forward. Does nothing if the session is gone, so a renewal
    /// racing a sign-out cannot resurrect it.
    async fn renew_session(
        &self,
        token_hash: &TokenHash,
        renewed_at: UnixTime,
        idle_expires_at: UnixTime,
    ) -> StoreResult<()>;

    /// Deletes one session. Deleting an absent session is not an error. A store that keeps a
    /// revocation beside the record (Cloudflare) keeps it from `now` at least until the
    /// session could have ended.
    async fn delete_session(&self, token_hash: &TokenHash, now: UnixTime) -> StoreResult<()>;

    /// Invalidates every session of the user at once (by bumping the user's epoch), then
    /// deletes the session records it can find.
    async fn revoke_all_sessions(&self, user_id: &UserId) -> StoreResult<()>;

    /// The user's sessions that still count at `now`: live (neither deadline passed), carrying
    /// `user.session_epoch`, not revoked. Newest first (`created_at`, then `id`). A store may
    /// find them through an eventually consistent index (DynamoDB's): a session made a moment
    /// ago may be missing, one ended a moment ago is not listed (each is read back).
    async fn sessions_of(
        &self,
        user: &UserRecord,
        now: UnixTime,
    ) -> StoreResult<Vec<SessionRecord>>;

    /// Ends the session with public id `id` if it is one of `user_id`'s and still live, and
    /// returns it; `None` (nothing done) if the user has no such session, so one user can
    /// never end another's. Ends it as [`Store::delete_session`] does.
    async fn revoke_session(
        &self,
        user_id: &UserId,
        id: &SessionId,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>>;

    /// Adds entries to their users' activity (each kept until its `expires_at`). Entries of
    /// one call may be written one by one: a failure part-way may leave some written.
    async fn add_activity(&self, entries: &[ActivityEntry]) -> StoreResult<()>;

    /// Up to `limit` of the user's live activity entries, newest first (`time`, then `id`,
    /// both descending), starting just after `after` (the last entry of the previous page).
    /// Eventually consistent where the store's index is.
    async fn activity_of(
        &self,
        user_id: &UserId,
        after: Option<&ActivityCursor>,
        limit: usize,
        now: UnixTime,
    ) -> StoreResult<Vec<ActivityEntry>>;

    /// Adds one to the counter and returns it. An absent or expired counter starts again at 1
    /// with `expires_at`; a live one keeps its expiry. Atomic under concurrency.
    async fn increment(
        &self,
        key: &CounterKey,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<Counter>;

    /// The counter under this key, unless its window has ended.
    async fn counter(&self, key: &CounterKey, now: UnixTime) -> StoreResult<Option<Counter>>;

    /// Sets the counter, replacing whatever was there.
    async fn put_counter(&self, key: &CounterKey, counter: Counter) -> StoreResult<()>;

    /// Deletes the counter. Deleting an absent counter is not an error.
    async fn delete_counter(&self, key: &CounterKey) -> StoreResult<()>;

    /// Stores a challenge under its key, replacing whatever was there: the replaced one's link
    /// and code stop working at once. Its TTL is `expires_at`.
    async fn put_challenge(&self, challenge: &EmailChallenge) -> StoreResult<()>;

    /// The live challenge under this key.
    async fn challenge(
        &self,
        key: &ChallengeKey,
        now: UnixTime,
    ) -> StoreResult<Option<EmailChallenge>>;

    /// The live challenge whose link token hashes to `token_hash`, if it is still the one
    /// under its key (a replaced challenge is not found). Strongly consistent: a link followed
    /// the moment its mail arrives finds it.
    async fn challenge_by_token(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<EmailChallenge>>;

    /// Counts one wrong code against the challenge `proof` names, if it is still live under its
    /// key; when the count reaches `max_failures` the challenge is deleted instead. Returns the
    /// failures counted so far, or `None` if the challenge was gone. Atomic: of `max_failures`
    /// concurrent wrong codes, the last one counted deletes it and none goes uncounted.
    async fn count_challenge_failure(
        &self,
        proof: &ChallengeProof,
        max_failures: u32,
        now: UnixTime,
    ) -> StoreResult<Option<u32>>;

    /// Deletes the challenge `proof` names if it is still live under its key. Of two
    /// concurrent takers exactly one gets `true`: a link or code works once.
    async fn take_challenge(&self, proof: &ChallengeProof, now: UnixTime) -> StoreResult<bool>;

    /// Proves a sign-up: takes the challenge, and creates the user (its email claim) and its
    /// first session, in one atomic write. Nothing is written unless all of it is.
    async fn complete_sign_up(
        &self,
        proof: &ChallengeProof,
        user: &UserRecord,
        first_session: &SessionRecord,
        now: UnixTime,
    ) -> StoreResult<SignUpOutcome>;

    /// Sets the user's password and bumps its session epoch (ending every session and
    /// refresh-token family it has), in one atomic write. With `proof` the challenge is taken
    /// in the same write, and the address counts as proven (the mail reached its owner); the
    /// write happens only if the challenge is still live. Returns the user's new session epoch,
    /// or `None` (nothing written) if the user or the challenge is gone.
    async fn set_password(
        &self,
        user_id: &UserId,
        password_hash: &PasswordHashString,
        proof: Option<&ChallengeProof>,
        now: UnixTime,
    ) -> StoreResult<Option<u64>>;

    /// Moves the user to `new_email` (the challenge's address), in one atomic write: takes the
    /// challenge, claims the new address, releases the old one, and sets the user's email, proven.
    async fn change_email(
        &self,
        proof: &ChallengeProof,
        user_id: &UserId,
        new_email: &Email,
        now: UnixTime,
    ) -> StoreResult<EmailChange>;

    /// Deletes the account and everything that names it: its federated identity links,
    /// sessions, refresh tokens and their families' revocations, challenges (under its address
    /// and its id), counters keyed by its address, its factors (TOTP, enrolment, passkeys and
    /// their credential id claims, recovery codes), pending sign-ins and passkey registrations in
    /// flight (WebAuthn challenges naming it), then the user and its email claim in one
    /// atomic write; and its activity. Afterwards nothing in the store holds the user's id or its address (or the
    /// address's hash), except a device authorization it approved: that lapses within minutes,
    /// and the token endpoint issues nothing for a user who is gone. The user goes last, so an outage part-way leaves an account that can
    /// be deleted again. Returns `false` (nothing done) if the user was gone.
    async fn delete_user(&self, user: &UserRecord) -> StoreResult<bool>;

    /// Marks the user's address proven (`email_verified`), if the user still has `email`: a
    /// mail to it was just proven, by a one-time sign-in code. Returns `false` (nothing written)
    /// if the user is gone or has another address now. Idempotent; touches nothing else (not
    /// the session epoch).
    async fn mark_email_verified(&self, user_id: &UserId, email: &Email) -> StoreResult<bool>;

    /// Stores a TOTP enrolment, replacing the user's last one (whose secret stops being
    /// confirmable at once). Its TTL is `expires_at`.
    async fn put_totp_enrolment(&self, enrolment: &TotpEnrolment) -> StoreResult<()>;

    /// The user's live TOTP enrolment.
    async fn totp_enrolment(
        &self,
        user_id: &UserId,
        now: UnixTime,
    ) -> StoreResult<Option<TotpEnrolment>>;

    /// Turns TOTP on, in one atomic write: takes `enrolment` (only if it is still the live one
    /// under its user, same `encrypted_secret`), stores `factor`, replaces the user's recovery
    /// codes with `codes`, and sets the user's `factors.totp`. Returns `false` (nothing written)
    /// if the enrolment is gone or replaced, TOTP is on already, or the user is gone. Of two
    /// concurrent confirmations exactly one gets `true`.
    async fn confirm_totp(
        &self,
        enrolment: &TotpEnrolment,
        factor: &TotpFactor,
        codes: &RecoveryCodes,
        now: UnixTime,
    ) -> StoreResult<bool>;

    /// The user's TOTP factor, if TOTP is on.
    async fn totp_factor(&self, user_id: &UserId) -> StoreResult<Option<TotpFactor>>;

    /// Records that a code for time step `step` was accepted (and `last_used_at = now`), if the
    /// factor exists and its `last_step` is absent or older: compare-and-set, so of two
    /// requests with one code exactly one gets `true`, and an older step after a newer is
    /// refused.
    async fn accept_totp_step(
        &self,
        user_id: &UserId,
        step: u64,
        now: UnixTime,
    ) -> StoreResult<bool>;

    /// Turns TOTP off: deletes the factor and clears the user's `factors.totp`, atomically.
    /// Returns `false` (nothing written) if it was off. Recovery codes are left (see
    /// [`Store::delete_recovery_codes`]).
    async fn remove_totp(&self, user_id: &UserId) -> StoreResult<bool>;

    /// The user's unused recovery codes: `None` if the user has no set; a set whose every code
    /// has been used reads back empty, with its `created_at`.
    async fn recovery_codes(&self, user_id: &UserId) -> StoreResult<Option<RecoveryCodes>>;

    /// Replaces the user's recovery codes with a new set: every old code stops working at once.
    async fn replace_recovery_codes(&self, codes: &RecoveryCodes) -> StoreResult<()>;

    /// Uses one recovery code: removes `code_hash` from the user's set if it is there. Of two
    /// concurrent takers of one code exactly one gets `true`.
    async fn take_recovery_code(
        &self,
        user_id: &UserId,
        code_hash: &TokenHash,
    ) -> StoreResult<bool>;

    /// Deletes the user's recovery codes (when its last factor is removed). Deleting absent
    /// codes is not an error.
    async fn delete_recovery_codes(&self, user_id: &UserId) -> StoreResult<()>;

    /// Registers a passkey, in one atomic write: claims its credential id (unique across all
    /// accounts), stores it, and adds one to the user's `factors.passkeys`. With `first_codes`
    /// (the account's first factor) the recovery codes are stored too, but only if the user
    /// still has no factor at all (else `FactorsChanged`, nothing written). Of two concurrent
    /// registrations of one credential id exactly one gets `Inserted`. A registered credential
    /// id is answered `CredentialTaken` whatever else would refuse it.
    async fn add_passkey(
        &self,
        passkey: &Passkey,
        first_codes: Option<&RecoveryCodes>,
    ) -> StoreResult<PasskeyInsert>;

    /// The passkey with this credential id, whoever's it is.
    async fn passkey_by_credential(
        &self,
        credential_id: &CredentialId,
    ) -> StoreResult<Option<Passkey>>;

    /// Every passkey of the user, oldest first.
    async fn passkeys_of(&self, user_id: &UserId) -> StoreResult<Vec<Passkey>>;

    /// Records a verified assertion: sets the passkey's `sign_count` to `new_count`, `backed_up`
    /// and `last_used_at = now`, only if its stored count is still `old_count` (what the caller
    /// read and checked `new_count` against): of two concurrent assertions from one read,
    /// exactly one gets `true`.
    async fn use_passkey(
        &self,
        user_id: &UserId,
        id: &FactorId,
        old_count: u32,
        new_count: u32,
        backed_up: bool,
        now: UnixTime,
    ) -> StoreResult<bool>;

    /// Renames the user's passkey. Returns `false` if the user has no passkey with this id.
    async fn rename_passkey(
        &self,
        user_id: &UserId,
        id: &FactorId,
        name: &str,
    ) -> StoreResult<bool>;

    /// Deletes the user's passkey and its credential id claim, and takes one from the user's
    /// `factors.passkeys`, atomically. Returns `false` (nothing written) if the user has no
    /// passkey with this id.
    async fn remove_passkey(&self, user_id: &UserId, id: &FactorId) -> StoreResult<bool>;

    /// Stores a pending sign-in under its token hash. Its TTL is `expires_at`.
    async fn put_pending_sign_in(&self, pending: &PendingSignIn) -> StoreResult<()>;

    /// The live pending sign-in with this token hash.
    async fn pending_sign_in(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>>;

    /// Counts one wrong second factor against the live pending sign-in; when the count
    /// reaches `max_failures` it is deleted instead. Returns the failures so far, or `None` if
    /// it was gone. Atomic, like [`Store::count_challenge_failure`].
    async fn count_pending_failure(
        &self,
        token_hash: &TokenHash,
        max_failures: u32,
        now: UnixTime,
    ) -> StoreResult<Option<u32>>;

    /// Deletes the pending sign-in and returns it if it was live: of two concurrent takers
    /// exactly one gets it, so one second factor makes one session.
    async fn take_pending_sign_in(
        &self,
        token_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignIn>>;

    /// Stores a WebAuthn challenge under its hash. Its TTL is `expires_at`.
    async fn put_webauthn_challenge(&self, challenge: &WebAuthnChallenge) -> StoreResult<()>;

    /// Deletes the challenge and returns it if it was live: of two concurrent takers exactly
    /// one gets it, so a challenge answers one ceremony.
    async fn take_webauthn_challenge(
        &self,
        challenge_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<WebAuthnChallenge>>;
}

/// Whether a record with this expiry is still live at `now`. Expiry is exclusive: a record
/// expiring at `t` is gone at `t`.
pub fn is_live(expires_at: UnixTime, now: UnixTime) -> bool {
    now < expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_counter_keys_never_hold_the_address() {
        let email = Email::parse("Ada@Example.com").unwrap();
        let key = CounterKey::sign_in_attempts(&email);
        assert!(
            !key.as_str().to_lowercase().contains("ada") && !key.as_str().contains("example"),
            "{key:?}"
        );
        // One address, one key: the hash is of the normalised form.
        assert_eq!(
            key,
            CounterKey::sign_in_attempts(&Email::parse("ada@example.com").unwrap())
        );
        assert_ne!(
            key,
            CounterKey::sign_in_attempts(&Email::parse("bob@example.com").unwrap())
        );
    }
}
