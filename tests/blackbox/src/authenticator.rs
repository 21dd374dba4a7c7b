//! A software WebAuthn authenticator and client, for tests only: it answers the options
//! authfn's begin endpoints give (`publicKey` JSON) with the `PublicKeyCredential.toJSON()`
//! a browser would post, built from the WebAuthn specification, not from authfn's verifier.
//! ES256 (P-256) and EdDSA (Ed25519) keys, `none` attestation, a signature counter, and every
//! flag under the test's control, so each check of the relying party can be made to fail.
//! Chromium's virtual authenticator (the browser suite) is the independent cross-check.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coset::cbor::value::Value as Cbor;
use coset::iana;
use coset::{CborSerializable, CoseKeyBuilder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The key type a credential is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (COSE -7).
    Es256,
    /// Ed25519 (COSE -8).
    EdDsa,
}

enum Key {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

impl Key {
    fn generate(alg: Algorithm) -> Key {
        match alg {
            Algorithm::Es256 => loop {
                if let Ok(k) = p256::ecdsa::SigningKey::from_bytes(&random::<32>().into()) {
                    return Key::Es256(k);
                }
            },
            Algorithm::EdDsa => Key::EdDsa(ed25519_dalek::SigningKey::from_bytes(&random::<32>())),
        }
    }

    fn cose(&self) -> Vec<u8> {
        match self {
            Key::Es256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                let (x, y) = (
                    point.x().expect("uncompressed"),
                    point.y().expect("uncompressed"),
                );
                CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x.to_vec(), y.to_vec())
                    .algorithm(iana::Algorithm::ES256)
                    .build()
            }
            Key::EdDsa(k) => CoseKeyBuilder::new_okp_key()
                .param(
                    iana::OkpKeyParameter::Crv as i64,
                    Cbor::from(iana::EllipticCurve::Ed25519 as i64),
                )
                .param(
                    iana::OkpKeyParameter::X as i64,
                    Cbor::Bytes(k.verifying_key().to_bytes().to_vec()),
                )
                .algorithm(iana::Algorithm::EdDSA)
                .build(),
        }
        .to_vec()
        .expect("a COSE key serialises")
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Key::Es256(k) => {
                let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(k, message);
                sig.to_der().as_bytes().to_vec()
            }
            Key::EdDsa(k) => ed25519_dalek::Signer::sign(k, message).to_bytes().to_vec(),
        }
    }
}

/// A credential the authenticator holds.
pub struct Credential {
    /// The credential id.
    pub id: Vec<u8>,
    /// The RP ID it was made for.
    pub rp_id: String,
    /// The user handle it was made with (given back at sign-in).
    pub user_handle: Vec<u8>,
    /// The signature counter: the next assertion sends this plus `counter_step`.
    pub counter: u32,
    key: Key,
}

/// A software authenticator with the browser part around it (client data, origin).
pub struct Authenticator {
    /// The origin the "browser" puts in client data.
    pub origin: String,
    /// When set, authenticator data carries this RP ID's hash instead of the options' one.
    pub rp_id_hash_of: Option<String>,
    /// Flag UP.
    pub user_present: bool,
    /// Flag UV.
    pub user_verified: bool,
    /// Flag BE.
    pub backup_eligible: bool,
    /// Flag BS.
    pub backed_up: bool,
    /// Added to a credential's counter at each assertion (0: the authenticator keeps none).
    pub counter_step: u32,
    /// Every credential made, oldest first.
    pub credentials: Vec<Credential>,
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("OS randomness");
    bytes
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url from the server")
}

impl Authenticator {
    /// A well-behaved authenticator in a browser at `origin`: user present and verified.
    pub fn new(origin: &str) -> Self {
        Authenticator {
            origin: origin.to_owned(),
            rp_id_hash_of: None,
            user_present: true,
            user_verified: true,
            backup_eligible: false,
            backed_up: false,
            counter_step: 1,
            credentials: Vec::new(),
        }
    }

    fn flags(&self) -> u8 {
        let mut f = 0;
        for (on, bit) in [
            (self.user_present, UP),
            (self.user_verified, UV),
            (self.backup_eligible, BE),
            (self.backed_up, BS),
        ] {
            if on {
                f |= bit;
            }
        }
        f
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn rp_hash(&self, rp_id: &str) -> [u8; 32] {
        Sha256::digest(self.rp_id_hash_of.as_deref().unwrap_or(rp_id).as_bytes()).into()
    }

    /// `navigator.credentials.create({publicKey: options})` then `toJSON()`: makes a credential
    /// (kept, for [`Authenticator::get`]) and answers with a `none` attestation.
    pub fn create(&mut self, options: &Value, alg: Algorithm) -> Value {
        let options = options.get("publicKey").unwrap_or(options);
        let rp_id = options["rp"]["id"].as_str().expect("rp.id").to_owned();
        let id = random::<16>().to_vec();
        self.credentials.push(Credential {
            id,
            rp_id,
            user_handle: unb64(options["user"]["id"].as_str().expect("user.id")),
            counter: 0,
            key: Key::generate(alg),
        });
        self.attest(options, self.credentials.len() - 1)
    }

    /// A registration response for the credential `self.credentials[index]`, made afresh for
    /// `options` (a misbehaving client registering one credential twice).
    pub fn attest(&mut self, options: &Value, index: usize) -> Value {
        let options = options.get("publicKey").unwrap_or(options);
        let challenge = options["challenge"].as_str().expect("challenge");
        let credential = &self.credentials[index];
        let (id, rp_id) = (credential.id.clone(), credential.rp_id.clone());
        let mut auth_data = self.rp_hash(&rp_id).to_vec();
        auth_data.push(self.flags() | AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0; 16]); // AAGUID: none
        auth_data.extend_from_slice(&u16::try_from(id.len()).expect("short id").to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&credential.key.cose());
        let object = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        let mut attestation = Vec::new();
        coset::cbor::ser::into_writer(&object, &mut attestation).expect("CBOR serialises");
        let client_data = self.client_data("webauthn.create", challenge);
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation),
                "transports": ["internal", "hybrid"],
            },
        })
    }

    /// `navigator.credentials.get({publicKey: options})` then `toJSON()`, with the newest
    /// credential for the RP ID that `allowCredentials` (if not empty) names.
    pub fn get(&mut self, options: &Value) -> Value {
        let options = options.get("publicKey").unwrap_or(options);
        let allowed: Vec<Vec<u8>> = options["allowCredentials"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| unb64(c["id"].as_str().expect("id")))
                    .collect()
            })
            .unwrap_or_default();
        let rp_id = options["rpId"].as_str().expect("rpId");
        let index = self
            .credentials
            .iter()
            .rposition(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .expect("the authenticator holds a credential for these options");
        self.get_with(options, index)
    }

    /// The same as [`Authenticator::get`], answering with `self.credentials[index]` whatever
    /// the options allow (a misbehaving client).
    pub fn get_with(&mut self, options: &Value, index: usize) -> Value {
        let options = options.get("publicKey").unwrap_or(options);
        let challenge = options["challenge"].as_str().expect("challenge");
        let flags = self.flags();
        let step = self.counter_step;
        let rp_hash = self.rp_hash(&self.credentials[index].rp_id.clone());
        let client_data = self.client_data("webauthn.get", challenge);
        let credential = &mut self.credentials[index];
        credential.counter += step;
        let mut auth_data = rp_hash.to_vec();
        auth_data.push(flags);
        auth_data.extend_from_slice(&credential.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature = credential.key.sign(&signed);
        json!({
            "id": b64(&credential.id),
            "rawId": b64(&credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(&signature),
                "userHandle": b64(&credential.user_handle),
            },
        })
    }
}
