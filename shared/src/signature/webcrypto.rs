//! The Workers back end: the runtime's WebCrypto (`crypto.subtle`), which workerd implements
//! natively. Keys are imported as JWKs on each use: an import is a few microseconds, and a
//! `CryptoKey` cannot be kept in the isolate's app, which is built without awaiting.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use super::{Algorithm, Digest, Ed25519Seed, PublicKey, SignError, SigningKey};
use crate::crypto::{b64url, b64url_decode, sha256};

fn subtle() -> Result<SubtleCrypto, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    Ok(crypto.unchecked_into::<web_sys::Crypto>().subtle())
}

/// A plain object of string-keyed members.
fn object(members: &[(&str, JsValue)]) -> Result<Object, JsValue> {
    let object = Object::new();
    for (name, value) in members {
        Reflect::set(&object, &JsValue::from_str(name), value)?;
    }
    Ok(object)
}

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn hash_name(digest: Digest) -> &'static str {
    match digest {
        Digest::Sha256 => "SHA-256",
        Digest::Sha384 => "SHA-384",
        Digest::Sha512 => "SHA-512",
    }
}

/// The algorithm as `importKey` wants it, and as `sign`/`verify` want it.
fn params(alg: Algorithm) -> Result<(Object, Object), JsValue> {
    let hash = text(hash_name(alg.digest()));
    Ok(match alg {
        Algorithm::EdDsa => {
            let ed = object(&[("name", text("Ed25519"))])?;
            (ed.clone(), ed)
        }
        Algorithm::Es256 | Algorithm::Es384 => {
            let curve = if alg == Algorithm::Es256 {
                "P-256"
            } else {
                "P-384"
            };
            (
                object(&[("name", text("ECDSA")), ("namedCurve", text(curve))])?,
                object(&[("name", text("ECDSA")), ("hash", hash)])?,
            )
        }
        Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512 => {
            let name = text("RSASSA-PKCS1-v1_5");
            (
                object(&[("name", name.clone()), ("hash", hash)])?,
                object(&[("name", name)])?,
            )
        }
        Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512 => {
            // RFC 7518 §3.5: the salt is as long as the hash.
            let salt = match alg.digest() {
                Digest::Sha256 => 32,
                Digest::Sha384 => 48,
                Digest::Sha512 => 64,
            };
            let name = text("RSA-PSS");
            (
                object(&[("name", name.clone()), ("hash", hash)])?,
                object(&[("name", name), ("saltLength", JsValue::from(salt))])?,
            )
        }
    })
}

fn public_jwk(key: &PublicKey) -> Result<Object, JsValue> {
    match key {
        PublicKey::Ed25519(x) => object(&[
            ("kty", text("OKP")),
            ("crv", text("Ed25519")),
            ("x", text(&b64url(x))),
        ]),
        PublicKey::P256 { x, y } => ec_jwk("P-256", x, y),
        PublicKey::P384 { x, y } => ec_jwk("P-384", x, y),
        PublicKey::Rsa(rsa) => object(&[
            ("kty", text("RSA")),
            ("n", text(&b64url(rsa.n()))),
            ("e", text(&b64url(rsa.e()))),
        ]),
    }
}

fn ec_jwk(curve: &str, x: &[u8], y: &[u8]) -> Result<Object, JsValue> {
    object(&[
        ("kty", text("EC")),
        ("crv", text(curve)),
        ("x", text(&b64url(x))),
        ("y", text(&b64url(y))),
    ])
}

/// The private key as a JWK. Its members are secrets: the object lives only until the
/// import that reads it.
fn private_jwk(key: &SigningKey) -> Result<Object, JsValue> {
    match key {
        SigningKey::Ed25519 { seed, public } => object(&[
            ("kty", text("OKP")),
            ("crv", text("Ed25519")),
            ("x", text(&b64url(public))),
            ("d", text(&b64url(seed.secret()))),
        ]),
        SigningKey::Rsa(der) => {
            let key = der
                .parsed()
                .ok_or_else(|| text("the RSA key no longer parses"))?;
            let member = |v: pkcs1::der::asn1::UintRef<'_>| text(&b64url(v.as_bytes()));
            object(&[
                ("kty", text("RSA")),
                ("n", member(key.modulus)),
                ("e", member(key.public_exponent)),
                ("d", member(key.private_exponent)),
                ("p", member(key.prime1)),
                ("q", member(key.prime2)),
                ("dp", member(key.exponent1)),
                ("dq", member(key.exponent2)),
                ("qi", member(key.coefficient)),
            ])
        }
    }
}

async fn import(jwk: &Object, alg: &Object, usage: &str) -> Result<CryptoKey, JsValue> {
    let usages = js_sys::Array::of1(&text(usage));
    let promise = subtle()?.import_key_with_object("jwk", jwk, alg, false, &usages)?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

pub(super) async fn verify(
    key: &PublicKey,
    alg: Algorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let verified = async {
        let (import_params, verify_params) = params(alg)?;
        let key = import(&public_jwk(key)?, &import_params, "verify").await?;
        let promise = subtle()?.verify_with_object_and_u8_array_and_u8_array(
            &verify_params,
            &key,
            signature,
            message,
        )?;
        JsFuture::from(promise).await
    };
    // A key WebCrypto will not import (a point off the curve, say) verifies nothing.
    verified.await.is_ok_and(|v| v.as_bool() == Some(true))
}

pub(super) async fn sign(key: &SigningKey, message: &[u8]) -> Result<Vec<u8>, SignError> {
    let signed = async {
        let (import_params, sign_params) = params(key.algorithm())?;
        let crypto_key = import(&private_jwk(key)?, &import_params, "sign").await?;
        let promise =
            subtle()?.sign_with_object_and_u8_array(&sign_params, &crypto_key, message)?;
        JsFuture::from(promise).await
    };
    let buffer = signed.await.map_err(|e| {
        SignError(
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .or_else(|| e.as_string())
                .unwrap_or_else(|| "WebCrypto refused".into()),
        )
    })?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

thread_local! {
    /// The public keys [`derive_ed25519_public_key`] derived, by the SHA-256 of their seed
    /// (not the seed itself: this table is not where a secret should be kept a second time).
    /// wasm32 has one thread; an isolate derives its few keys once.
    static ED25519_PUBLIC: std::cell::RefCell<Vec<([u8; 32], [u8; 32])>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

pub(super) fn ed25519_public_key(seed: &Ed25519Seed) -> Result<[u8; 32], String> {
    let id = sha256(seed.secret());
    ED25519_PUBLIC.with_borrow(|derived| {
        derived
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, public)| *public)
            .ok_or_else(|| "an Ed25519 key's public half was not derived before use".to_owned())
    })
}

/// Imports the seed as PKCS#8 (RFC 8410: a fixed prefix, then the seed) and reads the public
/// key, `x`, off its export as a JWK. A seed derived before (an isolate whose configuration
/// was refused tries again on each request) is not derived again.
pub(super) async fn derive_ed25519_public_key(seed: &Ed25519Seed) -> Result<(), String> {
    if ed25519_public_key(seed).is_ok() {
        return Ok(());
    }
    const PKCS8_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut der = zeroize::Zeroizing::new([0u8; 48]);
    der[..16].copy_from_slice(&PKCS8_PREFIX);
    der[16..].copy_from_slice(seed.secret());
    let exported = async {
        let usages = js_sys::Array::of1(&text("sign"));
        let algorithm = object(&[("name", text("Ed25519"))])?;
        let bytes = Uint8Array::from(&der[..]);
        let promise =
            subtle()?.import_key_with_object("pkcs8", &bytes, &algorithm, true, &usages)?;
        let key: CryptoKey = JsFuture::from(promise).await?.unchecked_into();
        let jwk = JsFuture::from(subtle()?.export_key("jwk", &key)?).await?;
        Reflect::get(&jwk, &text("x"))
    };
    let x = exported
        .await
        .map_err(|e| format!("WebCrypto would not derive an Ed25519 public key: {e:?}"))?;
    let public: [u8; 32] = x
        .as_string()
        .and_then(|x| b64url_decode(&x))
        .and_then(|x| x.try_into().ok())
        .ok_or("WebCrypto's Ed25519 JWK has no 32-byte x")?;
    ED25519_PUBLIC.with_borrow_mut(|derived| derived.push((sha256(seed.secret()), public)));
    Ok(())
}
