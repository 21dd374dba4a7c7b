//! Password policy and argon2id hashing.
//!
//! Every hash and verification of an instance runs in one of a few memory buffers allocated
//! once and reused: a fresh 19 MiB buffer per hash, freed again, leaves glibc's per-thread
//! arenas fragmented, and a process that serves many sign-ins grows by hundreds of megabytes.
//! On native runtimes the work also runs on tokio's blocking pool, not on the async workers
//! that multiplex requests.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::crypto;

/// The shortest new password accepted, in characters (not bytes).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Bounds hashing work per request: argon2 input is cheap, but parsing and copying a
/// megabyte-long "password" is not, and no person types one.
pub const MAX_PASSWORD_BYTES: usize = 1024;

crate::secret::secret_type!(
    /// A password as typed: hashed or verified once, never copied.
    pub struct Password(String);
);

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
    /// A hash as read back from the store, unchecked: a malformed one simply never verifies.
    pub fn from_stored(s: String) -> Self {
        PasswordHashString(s)
    }

    /// The PHC string, for storing.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// argon2id cost. Defaults are OWASP's first recommendation: m = 19 MiB, t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    /// Memory per hash, in KiB (`m`).
    pub memory_kib: u32,
    /// Passes over that memory (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl Default for Argon2Cost {
    fn default() -> Self {
        Argon2Cost {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Why a password could not be hashed or verified (never because it was wrong).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The operating system gave no randomness for a salt. (getrandom's and argon2's errors
    /// implement `Error` only with their `std` features, so their text is kept instead.)
    #[error("password hashing: no OS randomness for a salt: {0}")]
    Randomness(String),
    /// argon2 refused its input or parameters; the text says which, never the password.
    #[error("password hashing: argon2 refused its input or parameters: {0}")]
    Argon2(String),
    /// The runtime shut down before the hashing task finished.
    #[error("password hashing: the runtime shut down first")]
    Cancelled,
}

/// Hashes and verifies passwords at one configured cost. Cheap to clone: clones share the
/// instance's buffers.
#[derive(Clone)]
pub struct PasswordHasherConfig {
    inner: Arc<Hasher>,
}

struct Hasher {
    params: Params,
    /// A well-formed hash of no password, at the configured cost. Verifying an unknown user's
    /// password against it costs exactly one argon2id run, the same as a real user's, so the
    /// response time does not tell whether an account exists. Its output bytes are random,
    /// not a hash of anything, so building it costs nothing at cold start.
    dummy: String,
    buffers: BufferPool,
    /// argon2id runs so far (hashes and verifications), for tests and operators.
    runs: AtomicU64,
}

/// A few argon2 memory buffers, each allocated on first use and kept for the life of the
/// instance. More concurrent hashes than the machine has cores would only queue for the CPU,
/// so there is one buffer per core (at most four); a fifth concurrent hash waits for one.
struct BufferPool {
    slots: Vec<Mutex<Vec<Block>>>,
    next_wait: AtomicUsize,
}

impl BufferPool {
    fn new() -> Self {
        let cores = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, 4);
        BufferPool {
            slots: (0..cores).map(|_| Mutex::new(Vec::new())).collect(),
            next_wait: AtomicUsize::new(0),
        }
    }

    /// Runs `f` with a free buffer of at least `blocks` blocks. Verifying an older hash made at
    /// a higher cost grows the buffer, which then stays that size.
    fn with_buffer<R>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        // A panic inside argon2 leaves the buffer's contents undefined, which the next run
        // overwrites anyway: poisoning carries no meaning here.
        let free = self.slots.iter().find_map(|slot| match slot.try_lock() {
            Ok(buffer) => Some(buffer),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        });
        let mut buffer = free.unwrap_or_else(|| {
            let i = self.next_wait.fetch_add(1, Ordering::Relaxed) % self.slots.len();
            self.slots[i].lock().unwrap_or_else(PoisonError::into_inner)
        });
        if buffer.len() < blocks {
            buffer.resize(blocks, Block::default());
        }
        f(&mut buffer[..blocks])
    }
}

impl PasswordHasherConfig {
    /// A hasher at `cost`, with its dummy hash for unknown users; an error for parameters
    /// argon2 refuses.
    pub fn new(cost: Argon2Cost) -> Result<Self, String> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let salt = crypto::random_array::<16>().map_err(|e| e.to_string())?;
        let output = crypto::random_array::<32>().map_err(|e| e.to_string())?;
        let b64 = |b: &[u8]| {
            use base64ct::{Base64Unpadded, Encoding};
            Base64Unpadded::encode_string(b)
        };
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            cost.memory_kib,
            cost.iterations,
            cost.parallelism,
            b64(&salt),
            b64(&output)
        );
        let hasher = Hasher {
            params,
            dummy,
            buffers: BufferPool::new(),
            runs: AtomicU64::new(0),
        };
        Ok(PasswordHasherConfig {
            inner: Arc::new(hasher),
        })
    }

    /// How many argon2id runs (hashes and verifications) this instance has made.
    pub fn runs(&self) -> u64 {
        self.inner.runs.load(Ordering::Relaxed)
    }

    /// A new PHC hash of `password` with a fresh random salt, at the configured cost.
    pub async fn hash(&self, password: Password) -> Result<PasswordHashString, HashError> {
        let hasher = self.inner.clone();
        off_executor(move || hasher.hash(&password)).await?
    }

    /// Verifies against the stored hash, or against the dummy when there is no user, so both
    /// paths do the same work. The output comparison is constant-time.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<PasswordHashString>,
    ) -> Result<bool, HashError> {
        let hasher = self.inner.clone();
        off_executor(move || match &stored {
            Some(h) => hasher.verify(&password, h.as_str()),
            None => {
                hasher.verify(&password, &hasher.dummy);
                false
            }
        })
        .await
    }
}

impl Hasher {
    fn hash(&self, password: &Password) -> Result<PasswordHashString, HashError> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let salt_bytes =
            crypto::random_array::<16>().map_err(|e| HashError::Randomness(e.to_string()))?;
        let salt =
            SaltString::encode_b64(&salt_bytes).map_err(|e| HashError::Argon2(e.to_string()))?;
        let output = self
            .run(&argon2, password, &salt_bytes, Params::DEFAULT_OUTPUT_LEN)
            .map_err(|e| HashError::Argon2(e.to_string()))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params)
                .map_err(|e| HashError::Argon2(e.to_string()))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(PasswordHashString(phc.to_string()))
    }

    /// Recomputes the hash with the algorithm, version and parameters stored in `phc`, so
    /// raising the cost later still accepts older hashes.
    fn verify(&self, password: &Password, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let algorithm = Algorithm::try_from(parsed.algorithm);
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from);
        let (Ok(algorithm), Ok(version), Ok(params)) =
            (algorithm, version, Params::try_from(&parsed))
        else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let argon2 = Argon2::new(algorithm, version, params);
        // `Output`'s equality is constant-time.
        self.run(&argon2, password, salt, expected.len())
            .is_ok_and(|computed| computed == expected)
    }

    fn run(
        &self,
        argon2: &Argon2<'_>,
        password: &Password,
        salt: &[u8],
        len: usize,
    ) -> argon2::password_hash::Result<Output> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.buffers
            .with_buffer(argon2.params().block_count(), |blocks| {
                Output::init_with(len, |out| {
                    Ok(argon2.hash_password_into_with_memory(
                        password.0.as_bytes(),
                        salt,
                        out,
                        blocks,
                    )?)
                })
            })
    }
}

/// Runs CPU-heavy work on tokio's blocking pool when there is a tokio runtime, so the async
/// workers keep serving other requests meanwhile.
#[cfg(not(target_arch = "wasm32"))]
async fn off_executor<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, HashError> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(work)
            .await
            .map_err(|e| match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => HashError::Cancelled,
            }),
        Err(_) => Ok(work()),
    }
}

/// A Worker has one thread and no blocking pool: the work runs where it is.
#[cfg(target_arch = "wasm32")]
async fn off_executor<R>(work: impl FnOnce() -> R) -> Result<R, HashError> {
    Ok(work())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasherConfig {
        PasswordHasherConfig::new(Argon2Cost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    fn pw(s: &str) -> Password {
        Password::presented(s.into()).unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let h = cheap();
        let stored = h.hash(pw("correct horse")).await.unwrap();
        assert!(stored.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(
            h.verify(pw("correct horse"), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!h.verify(pw("correct horsf"), Some(stored)).await.unwrap());
        assert_eq!(h.runs(), 3);
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crates_own_api_at_any_cost() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let h = cheap();
        // A hash made the standard way, at another cost (as before a cost change), verifies…
        let older = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(128, 2, 2, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let phc = older
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let stored = PasswordHashString::from_stored(phc);
        assert!(
            h.verify(pw("correct horse"), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!h.verify(pw("correct horsf"), Some(stored)).await.unwrap());
        // …and so does ours at the smaller configured cost afterwards, in the same buffer.
        let ours = h.hash(pw("battery staple")).await.unwrap();
        let parsed = PasswordHash::new(ours.as_str()).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"battery staple", &parsed)
                .is_ok()
        );
        assert!(h.verify(pw("battery staple"), Some(ours)).await.unwrap());
    }

    #[tokio::test]
    async fn the_dummy_hash_parses_and_never_matches_but_costs_a_run() {
        let h = cheap();
        assert!(PasswordHash::new(&h.inner.dummy).is_ok());
        assert!(!h.verify(pw("anything"), None).await.unwrap());
        assert_eq!(h.runs(), 1);
        // Malformed stored hashes are a mismatch, never a panic.
        let junk = PasswordHashString::from_stored("$argon2id$v=19$nonsense".into());
        assert!(!h.verify(pw("anything"), Some(junk)).await.unwrap());
    }

    #[tokio::test]
    async fn sequential_runs_reuse_one_buffer() {
        let h = cheap();
        for _ in 0..3 {
            let stored = h.hash(pw("correct horse")).await.unwrap();
            h.verify(pw("correct horse"), Some(stored)).await.unwrap();
        }
        let sizes: Vec<usize> = h
            .inner
            .buffers
            .slots
            .iter()
            .map(|s| s.lock().unwrap().len())
            .collect();
        assert_eq!(sizes.iter().filter(|n| **n > 0).count(), 1, "{sizes:?}");
        assert_eq!(sizes.iter().max(), Some(&64), "64 KiB is 64 blocks");
    }

    /// On a single-threaded runtime, other tasks keep running while a password is hashed.
    #[tokio::test(flavor = "current_thread")]
    async fn hashing_leaves_the_async_executor_free() {
        let h = PasswordHasherConfig::new(Argon2Cost {
            memory_kib: 4096,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        let hashing = tokio::spawn(async move { h.hash(pw("correct horse")).await });
        let mut turns = 0;
        while !hashing.is_finished() {
            tokio::task::yield_now().await;
            turns += 1;
        }
        assert!(
            turns > 10,
            "the executor got only {turns} turns while hashing"
        );
        hashing.await.unwrap().unwrap();
    }

    #[test]
    fn hashing_works_without_a_tokio_runtime() {
        let h = cheap();
        let stored = block_on_inline(h.hash(pw("correct horse"))).unwrap();
        assert!(block_on_inline(h.verify(pw("correct horse"), Some(stored))).unwrap());
    }

    /// Polls a future that never waits (no runtime: the work runs inline) to completion.
    fn block_on_inline<F: std::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("work without a runtime must run inline"),
        }
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
        assert_eq!(
            Argon2Cost::default(),
            Argon2Cost {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
    }
}
