//! Asymmetric signatures: what signs access and ID tokens, and what verifies them, the
//! providers' ID tokens and passkey assertions. One interface over two back ends: natively
//! the RustCrypto crates (`native.rs`); on Workers the runtime's WebCrypto
//! (`webcrypto.rs`), which computes outside the wasm, so the Worker links no curve or RSA
//! arithmetic (README, "Size and cold start").
//!
//! The interface is async because WebCrypto is. Key material stays plain bytes here; each
//! back end turns it into its own key object when it signs or verifies.

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
use native as backend;
#[cfg(target_arch = "wasm32")]
mod webcrypto;
#[cfg(target_arch = "wasm32")]
use webcrypto as backend;

mod ecdsa_der;
mod rsa_key;

pub use ecdsa_der::ecdsa_der_to_fixed;
pub use rsa_key::{RsaPrivateKeyDer, RsaPublicKey};

/// A signature algorithm, named as JWS names it (RFC 7518 §3.1, RFC 8037). HMAC is not one:
/// a verifier here only ever holds public keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Ed25519 (`EdDSA`).
    EdDsa,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, 32-byte salt).
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
}

/// The digest an algorithm signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digest {
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    /// Every algorithm, in the order discovery documents list them.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The algorithm a JWS `alg` names; `None` for `none`, HMAC and anything unknown.
    pub fn from_jws(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.jws_name() == name)
    }

    /// Its JWS `alg`.
    pub fn jws_name(self) -> &'static str {
        match self {
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
        }
    }

    pub(crate) fn digest(self) -> Digest {
        match self {
            Algorithm::EdDsa | Algorithm::Es256 | Algorithm::Rs256 | Algorithm::Ps256 => {
                Digest::Sha256
            }
            Algorithm::Es384 | Algorithm::Rs384 | Algorithm::Ps384 => Digest::Sha384,
            Algorithm::Rs512 | Algorithm::Ps512 => Digest::Sha512,
        }
    }
}

/// A public key, as its parameters. Whether the point or modulus is valid is the back end's
/// to find out when it verifies: an invalid key verifies nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An Ed25519 public key.
    Ed25519([u8; 32]),
    /// A P-256 point, uncompressed.
    P256 {
        /// The x coordinate, big-endian.
        x: [u8; 32],
        /// The y coordinate, big-endian.
        y: [u8; 32],
    },
    /// A P-384 point, uncompressed.
    P384 {
        /// The x coordinate, big-endian.
        x: [u8; 48],
        /// The y coordinate, big-endian.
        y: [u8; 48],
    },
    /// An RSA public key.
    Rsa(RsaPublicKey),
}

impl PublicKey {
    /// Whether this key can check `alg` signatures at all: an Ed25519 key never checks an
    /// RS256 signature, whatever a token's header claims (algorithm confusion).
    pub fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (PublicKey::Ed25519(_), Algorithm::EdDsa)
                | (PublicKey::P256 { .. }, Algorithm::Es256)
                | (PublicKey::P384 { .. }, Algorithm::Es384)
                | (
                    PublicKey::Rsa(_),
                    Algorithm::Rs256
                        | Algorithm::Rs384
                        | Algorithm::Rs512
                        | Algorithm::Ps256
                        | Algorithm::Ps384
                        | Algorithm::Ps512
                )
        )
    }
}

/// Whether `signature` is `key`'s `alg` signature of `message`. ECDSA signatures are the
/// fixed-size `r || s` of JWS (a passkey's DER goes through [`ecdsa_der_to_fixed`] first).
pub async fn verify(key: &PublicKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    key.fits(alg) && backend::verify(key, alg, message, signature).await
}

crate::secret::secret_type!(
    /// An Ed25519 private key's 32-byte seed.
    #[derive(Clone)]
    pub struct Ed25519Seed([u8; 32]);
);

impl Ed25519Seed {
    /// A seed as configured.
    pub fn new(seed: [u8; 32]) -> Self {
        Ed25519Seed(seed)
    }

    /// The public key of this seed (RFC 8032 §5.1.5). On Workers, WebCrypto derives it,
    /// asynchronously, so [`derive_public_keys`] must have been given the seed first; a seed
    /// it was not given is an error.
    pub fn public_key(&self) -> Result<[u8; 32], String> {
        backend::ed25519_public_key(self)
    }
}

/// Derives each seed's public key with WebCrypto, ahead of the configuration that needs
/// them: reading it is synchronous, and WebCrypto is not. Linking Ed25519's arithmetic and
/// SHA-512 for a key derived once per isolate cost the Worker 12 KB of wasm, 5 KiB gzip.
#[cfg(target_arch = "wasm32")]
pub async fn derive_public_keys(seeds: &[Ed25519Seed]) -> Result<(), String> {
    for seed in seeds {
        webcrypto::derive_ed25519_public_key(seed).await?;
    }
    Ok(())
}

/// A private key that signs: the two kinds authfn signs tokens with.
#[derive(Debug, Clone)]
pub enum SigningKey {
    /// Ed25519: access tokens, and ID tokens when no RSA key is configured (`EdDSA`).
    Ed25519 {
        /// The private key.
        seed: Ed25519Seed,
        /// Its public half, which WebCrypto's import needs beside it.
        public: [u8; 32],
    },
    /// RSA: ID tokens, RS256.
    Rsa(RsaPrivateKeyDer),
}

impl SigningKey {
    /// The Ed25519 key of `seed`.
    pub fn ed25519(seed: Ed25519Seed) -> Result<Self, String> {
        let public = seed.public_key()?;
        Ok(SigningKey::Ed25519 { seed, public })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::Ed25519 { .. } => Algorithm::EdDsa,
            SigningKey::Rsa(_) => Algorithm::Rs256,
        }
    }

    /// This key's signature of `message` with [`Self::algorithm`].
    pub async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        backend::sign(self, message).await
    }
}

/// Why a signature could not be made: the back end refused the key (a bug or a broken
/// configuration, never the request's fault). The text names no key material.
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub(crate) String);

#[cfg(test)]
mod tests;
