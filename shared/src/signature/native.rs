//! The native back end: the RustCrypto crates.

use ed25519_dalek::Signer as _;
use rsa::signature::{SignatureEncoding as _, Verifier as _};
use sha2::{Sha256, Sha384, Sha512};

use super::{Algorithm, Digest, Ed25519Seed, PublicKey, SignError, SigningKey};

pub(super) async fn verify(
    key: &PublicKey,
    alg: Algorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    match key {
        PublicKey::Ed25519(x) => {
            let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(x) else {
                return false;
            };
            ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok())
        }
        PublicKey::P256 { x, y } => {
            let point = p256::EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
            let Ok(key) = p256::ecdsa::VerifyingKey::from_encoded_point(&point) else {
                return false;
            };
            p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok())
        }
        PublicKey::P384 { x, y } => {
            let point = p384::EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
            let Ok(key) = p384::ecdsa::VerifyingKey::from_encoded_point(&point) else {
                return false;
            };
            p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok())
        }
        PublicKey::Rsa(public) => {
            let Ok(key) = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(public.n()),
                rsa::BigUint::from_bytes_be(public.e()),
            ) else {
                return false;
            };
            verify_rsa(key, alg, message, signature)
        }
    }
}

fn verify_rsa(key: rsa::RsaPublicKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    use rsa::{pkcs1v15, pss};
    let pss = matches!(alg, Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512);
    macro_rules! check {
        ($scheme:ident, $digest:ty) => {
            $scheme::Signature::try_from(signature).is_ok_and(|sig| {
                $scheme::VerifyingKey::<$digest>::new(key)
                    .verify(message, &sig)
                    .is_ok()
            })
        };
    }
    match (pss, alg.digest()) {
        (false, Digest::Sha256) => check!(pkcs1v15, Sha256),
        (false, Digest::Sha384) => check!(pkcs1v15, Sha384),
        (false, Digest::Sha512) => check!(pkcs1v15, Sha512),
        (true, Digest::Sha256) => check!(pss, Sha256),
        (true, Digest::Sha384) => check!(pss, Sha384),
        (true, Digest::Sha512) => check!(pss, Sha512),
    }
}

pub(super) async fn sign(key: &SigningKey, message: &[u8]) -> Result<Vec<u8>, SignError> {
    match key {
        SigningKey::Ed25519 { seed, .. } => {
            Ok(ed25519_dalek::SigningKey::from_bytes(seed.secret())
                .sign(message)
                .to_vec())
        }
        SigningKey::Rsa(der) => {
            use rsa::pkcs1::DecodeRsaPrivateKey as _;
            let key = rsa::RsaPrivateKey::from_pkcs1_der(der.secret())
                .map_err(|e| SignError(format!("RSA key: {e}")))?;
            Ok(rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
                .try_sign(message)
                .map_err(|e| SignError(format!("RSA: {e}")))?
                .to_vec())
        }
    }
}

pub(super) fn ed25519_public_key(seed: &Ed25519Seed) -> Result<[u8; 32], String> {
    Ok(ed25519_dalek::SigningKey::from_bytes(seed.secret())
        .verifying_key()
        .to_bytes())
}
