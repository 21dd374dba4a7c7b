//! The native back end against another implementation: jsonwebtoken's own RustCrypto
//! signatures (a dev-dependency) sign what ours verify, and verify what ours sign. The
//! WebCrypto back end runs the same flows in workerd (the black-box suite on Workers).

use jsonwebtoken::{EncodingKey, crypto};

use super::*;
use crate::crypto::{b64url, b64url_decode};

/// The test RSA key (2048 bits), PKCS#1 DER.
fn rsa_der() -> Vec<u8> {
    b64url_decode(include_str!("../../tests/data/rsa-id-token-key.b64url").trim()).unwrap()
}

fn rsa_public() -> RsaPublicKey {
    RsaPrivateKeyDer::from_pkcs1_der(rsa_der()).unwrap().1
}

fn p256_key() -> (p256::ecdsa::SigningKey, PublicKey) {
    let signing = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
    let point = signing.verifying_key().to_encoded_point(false);
    let public = PublicKey::P256 {
        x: point.x().unwrap().as_slice().try_into().unwrap(),
        y: point.y().unwrap().as_slice().try_into().unwrap(),
    };
    (signing, public)
}

fn p384_key() -> (p384::ecdsa::SigningKey, PublicKey) {
    let signing = p384::ecdsa::SigningKey::from_slice(&[9; 48]).unwrap();
    let point = signing.verifying_key().to_encoded_point(false);
    let public = PublicKey::P384 {
        x: point.x().unwrap().as_slice().try_into().unwrap(),
        y: point.y().unwrap().as_slice().try_into().unwrap(),
    };
    (signing, public)
}

/// jsonwebtoken's signature of `message`, decoded.
fn theirs(message: &[u8], key: &EncodingKey, alg: jsonwebtoken::Algorithm) -> Vec<u8> {
    b64url_decode(&crypto::sign(message, key, alg).unwrap()).unwrap()
}

#[tokio::test]
async fn what_jsonwebtoken_signs_verifies_here_and_nothing_else_does() {
    use jsonwebtoken::Algorithm as Jwt;
    let message = b"header.payload";
    let rsa = EncodingKey::from_rsa_der(&rsa_der());
    let (p256_signing, p256) = p256_key();
    let (p384_signing, p384) = p384_key();
    let p256_der = {
        use p256::pkcs8::EncodePrivateKey;
        p256_signing.to_pkcs8_der().unwrap()
    };
    let p384_der = {
        use p384::pkcs8::EncodePrivateKey;
        p384_signing.to_pkcs8_der().unwrap()
    };
    let cases = [
        (
            Algorithm::Rs256,
            Jwt::RS256,
            &rsa,
            PublicKey::Rsa(rsa_public()),
        ),
        (
            Algorithm::Rs384,
            Jwt::RS384,
            &rsa,
            PublicKey::Rsa(rsa_public()),
        ),
        (
            Algorithm::Rs512,
            Jwt::RS512,
            &rsa,
            PublicKey::Rsa(rsa_public()),
        ),
        (
            Algorithm::Ps256,
            Jwt::PS256,
            &rsa,
            PublicKey::Rsa(rsa_public()),
        ),
        (
            Algorithm::Ps384,
            Jwt::PS384,
            &rsa,
            PublicKey::Rsa(rsa_public()),
        ),
        (
            Algorithm::Ps512,
            Jwt::PS512,
            &rsa,
            PublicKey::Rsa(rsa_public()),
        ),
        (
            Algorithm::Es256,
            Jwt::ES256,
            &EncodingKey::from_ec_der(p256_der.as_bytes()),
            p256,
        ),
        (
            Algorithm::Es384,
            Jwt::ES384,
            &EncodingKey::from_ec_der(p384_der.as_bytes()),
            p384,
        ),
    ];
    for (ours, jwt, encoding, public) in &cases {
        let signature = theirs(message, encoding, *jwt);
        assert!(verify(public, *ours, message, &signature).await, "{ours:?}");
        assert!(
            !verify(public, *ours, b"header.payloaD", &signature).await,
            "{ours:?}: another message"
        );
        let mut flipped = signature.clone();
        flipped[5] ^= 1;
        assert!(
            !verify(public, *ours, message, &flipped).await,
            "{ours:?}: a flipped bit"
        );
        for other in Algorithm::ALL.into_iter().filter(|a| a != ours) {
            assert!(
                !verify(public, other, message, &signature).await,
                "{ours:?}'s signature passed as {other:?}"
            );
        }
    }
}

#[tokio::test]
async fn what_we_sign_jsonwebtoken_verifies() {
    let message = b"header.payload";
    let seed = Ed25519Seed::new([3; 32]);
    let ed = SigningKey::ed25519(seed.clone()).unwrap();
    let signature = ed.sign(message).await.unwrap();
    let x = b64url(&seed.public_key().unwrap());
    let decoding = jsonwebtoken::DecodingKey::from_ed_components(&x).unwrap();
    let alg = jsonwebtoken::Algorithm::EdDSA;
    assert!(crypto::verify(&b64url(&signature), message, &decoding, alg).unwrap());
    assert!(
        verify(
            &PublicKey::Ed25519(seed.public_key().unwrap()),
            Algorithm::EdDsa,
            message,
            &signature
        )
        .await
    );

    let (private, public) = RsaPrivateKeyDer::from_pkcs1_der(rsa_der()).unwrap();
    let rsa = SigningKey::Rsa(private);
    assert_eq!(rsa.algorithm(), Algorithm::Rs256);
    let signature = rsa.sign(message).await.unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_rsa_raw_components(public.n(), public.e());
    let alg = jsonwebtoken::Algorithm::RS256;
    assert!(crypto::verify(&b64url(&signature), message, &decoding, alg).unwrap());
}

#[test]
fn the_test_rsa_key_reads_as_2048_bits_and_garbage_does_not_read() {
    assert_eq!(rsa_public().bits(), 2048);
    assert!(RsaPrivateKeyDer::from_pkcs1_der(b"\x30\x03\x02\x01\x00".to_vec()).is_err());
    assert!(RsaPrivateKeyDer::from_pkcs1_der(Vec::new()).is_err());
}

#[test]
fn a_der_ecdsa_signature_becomes_jose_r_s_or_is_refused() {
    let (signing, _) = p256_key();
    let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&signing, b"m");
    let der = sig.to_der();
    assert_eq!(
        ecdsa_der_to_fixed(der.as_bytes(), 32).unwrap(),
        sig.to_bytes().to_vec()
    );
    let mut trailing = der.as_bytes().to_vec();
    trailing.push(0);
    assert_eq!(
        ecdsa_der_to_fixed(&trailing, 32),
        None,
        "bytes after the value"
    );
    assert_eq!(
        ecdsa_der_to_fixed(der.as_bytes(), 16),
        None,
        "scalars too long for the curve"
    );
    // SEQUENCE { INTEGER -1, INTEGER 1 }: a negative scalar.
    assert_eq!(
        ecdsa_der_to_fixed(&[0x30, 6, 2, 1, 0xff, 2, 1, 1], 32),
        None
    );
    // SEQUENCE { INTEGER 1, INTEGER 2 }: small scalars are left-padded.
    let small = ecdsa_der_to_fixed(&[0x30, 6, 2, 1, 1, 2, 1, 2], 32).unwrap();
    assert_eq!(
        (
            small[31],
            small[63],
            small.iter().filter(|b| **b != 0).count()
        ),
        (1, 2, 2)
    );
}
