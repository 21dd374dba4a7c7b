//! The cost of one passkey verification beside one bare ES256 verification.
//!
//! - `passkey/assertion`: what `/auth/passkeys/sign-in/finish` computes for an assertion,
//!   without the store: decoding the `AuthenticationResponseJSON` (base64url), the client data
//!   check (type, origin, challenge), authenticator data parsing, the flag checks, COSE key
//!   decoding, and the ES256 signature check over authData ‖ SHA-256(clientDataJSON).
//! - `passkey/p256_verify`: one `p256` ECDSA verification of the same signed bytes with a key
//!   already decoded: the floor any verifier pays.
//!
//! After criterion the two are timed interleaved, call by call, and the ratio of the medians
//! printed: the figure the closing note quotes.
//!
//! Run with `cargo bench -p authfn --bench passkey`.

use std::hint::black_box;
use std::time::Instant;

use authfn::webauthn::ceremony::Assertion;
use authfn::webauthn::json::AuthenticationResponse;
use authfn::webauthn::{AttestationObject, AuthenticatorData, rp_id_hash};
use authfn_blackbox::authenticator::{Algorithm, Authenticator};
use criterion::Criterion;
use p256::ecdsa::signature::Verifier;
use serde_json::json;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "https://app.example.com";
const RP_ID: &str = "app.example.com";
const ROUNDS: usize = 2000;

struct Case {
    /// Verification is async (WebCrypto on Workers); natively it never waits, so a
    /// current-thread runtime adds only its polling.
    runtime: tokio::runtime::Runtime,
    response: AuthenticationResponse,
    cose: Vec<u8>,
    rp_hash: [u8; 32],
    key: p256::ecdsa::VerifyingKey,
    signed: Vec<u8>,
    signature: p256::ecdsa::Signature,
}

/// The P-256 key of an ES256 COSE_Key (labels -2 and -3 are its x and y).
fn p256_key(cose: &[u8]) -> p256::ecdsa::VerifyingKey {
    use coset::CborSerializable;
    let key = coset::CoseKey::from_slice(cose).expect("COSE key");
    let coordinate = |label: i64| {
        key.params
            .iter()
            .find(|(l, _)| *l == coset::Label::Int(label))
            .and_then(|(_, v)| v.as_bytes())
            .expect("an EC2 coordinate")
            .clone()
    };
    let mut sec1 = vec![0x04];
    sec1.extend(coordinate(-2));
    sec1.extend(coordinate(-3));
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).expect("a P-256 point")
}

fn b64(s: &serde_json::Value) -> Vec<u8> {
    authfn::crypto::b64url_decode(s.as_str().expect("a string")).expect("base64url")
}

impl Case {
    fn new() -> Self {
        let mut auth = Authenticator::new(ORIGIN);
        let challenge = authfn::crypto::b64url(&[7; 32]);
        let creation = json!({ "publicKey": {
            "rp": { "id": RP_ID, "name": "bench" },
            "user": { "id": authfn::crypto::b64url(b"user"), "name": "u", "displayName": "u" },
            "challenge": challenge,
        }});
        let registration = auth.create(&creation, Algorithm::Es256);
        let object = AttestationObject::parse(&b64(&registration["response"]["attestationObject"]))
            .expect("attestation object");
        let cose = AuthenticatorData::parse(&object.auth_data)
            .expect("authenticator data")
            .attested_credential
            .expect("attested credential")
            .public_key;
        let request = json!({ "publicKey": { "challenge": challenge, "rpId": RP_ID, "allowCredentials": [] } });
        let assertion = auth.get(&request);
        let mut signed = b64(&assertion["response"]["authenticatorData"]);
        signed.extend_from_slice(&Sha256::digest(b64(
            &assertion["response"]["clientDataJSON"],
        )));
        let signature = p256::ecdsa::Signature::from_der(&b64(&assertion["response"]["signature"]))
            .expect("DER");
        let key = p256_key(&cose);
        let case = Case {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime"),
            response: serde_json::from_value(assertion).expect("AuthenticationResponseJSON"),
            cose,
            rp_hash: rp_id_hash(RP_ID),
            key,
            signed,
            signature,
        };
        assert!(
            case.passkey() && case.bare(),
            "both verify before they are timed"
        );
        case
    }

    fn passkey(&self) -> bool {
        let Ok(assertion) = Assertion::parse(black_box(&self.response), |o| o == ORIGIN) else {
            return false;
        };
        self.runtime
            .block_on(assertion.verify(&self.rp_hash, &self.cose, 0))
            .is_ok()
    }

    fn bare(&self) -> bool {
        self.key
            .verify(black_box(&self.signed), black_box(&self.signature))
            .is_ok()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let case = Case::new();
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("passkey");
    group.bench_function("assertion", |b| b.iter(|| case.passkey()));
    group.bench_function("p256_verify", |b| b.iter(|| case.bare()));
    group.finish();
    c.final_summary();

    let time = |f: &dyn Fn() -> bool| {
        let start = Instant::now();
        assert!(f());
        start.elapsed().as_secs_f64() * 1e6
    };
    let (mut passkey, mut bare) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            passkey.push(time(&|| case.passkey()));
            bare.push(time(&|| case.bare()));
        } else {
            bare.push(time(&|| case.bare()));
            passkey.push(time(&|| case.passkey()));
        }
    }
    let (p, b) = (median(passkey), median(bare));
    println!(
        "interleaved, {ROUNDS} rounds: passkey assertion {p:.1} µs, bare ES256 verify {b:.1} µs, ratio {:.2}",
        p / b
    );
}
