//! The cryptographic core of WebAuthn relying-party verification, in pure Rust so the Worker
//! (wasm32, no OpenSSL) runs the same code as Lambda: authenticator data (WebAuthn §6.1), the
//! attestation object of a `none` attestation, COSE public keys (RFC 9053 via `coset`), and
//! assertion signatures through [`crate::signature`] (RustCrypto natively, WebCrypto on
//! Workers), as for ID tokens.
//!
//! [`ceremony`] builds the relying party's checks (RP ID hash, flags, algorithm, signature,
//! counter) on this core, [`json`] the WebAuthn JSON forms; the passkey endpoints add what
//! needs the store (the challenge, the credential's owner, the counter's compare-and-set).

pub mod ceremony;
pub mod json;

use coset::cbor::value::Value;
use coset::iana::{self, EnumI64};
use coset::{CborSerializable, CoseKey, KeyType, Label};
use sha2::{Digest, Sha256};

use crate::signature::{Algorithm, PublicKey, RsaPublicKey};

/// COSE algorithm ids authfn accepts, most preferred first: `pubKeyCredParams` of the
/// creation options lists them in this order.
pub const SUPPORTED_ALGORITHMS: [i64; 3] = [
    iana::Algorithm::ES256 as i64,
    iana::Algorithm::EdDSA as i64,
    iana::Algorithm::RS256 as i64,
];

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Why a WebAuthn structure was refused. Never carries input values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebAuthnError {
    /// The authenticator data is shorter than its fields or has bytes after them.
    #[error("malformed authenticator data")]
    AuthenticatorData,
    /// The attestation object is not CBOR of the expected shape.
    #[error("malformed attestation object")]
    AttestationObject,
    /// The credential public key is not a COSE key authfn can use.
    #[error("unsupported or malformed credential public key")]
    PublicKey,
    /// The client data is not JSON of the expected shape.
    #[error("malformed client data")]
    ClientData,
    /// The client data is for the other ceremony (`webauthn.get` at registration, or back).
    #[error("client data of the wrong ceremony type")]
    CeremonyType,
    /// The client data names an origin that is not trusted, or a cross-origin call.
    #[error("client data from an untrusted or cross origin")]
    Origin,
}

/// Which ceremony a client data JSON must be for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// Registration: `navigator.credentials.create`, type `webauthn.create`.
    Create,
    /// Authentication: `navigator.credentials.get`, type `webauthn.get`.
    Get,
}

impl Ceremony {
    fn client_data_type(self) -> &'static str {
        match self {
            Ceremony::Create => "webauthn.create",
            Ceremony::Get => "webauthn.get",
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientDataJson {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(default)]
    cross_origin: bool,
    #[serde(default)]
    top_origin: Option<String>,
}

/// Checks a `clientDataJSON` (WebAuthn §7.1 steps 7–10, §7.2 steps 11–14): its type is
/// `ceremony`'s, its origin one `is_trusted` accepts, and it was not made in a cross-origin
/// frame. Returns the challenge it carries (decoded), for the caller to find, and take, in the
/// store: whether the challenge is one authfn issued is the caller's to decide. Unknown members
/// are ignored, as the specification requires.
pub fn check_client_data(
    json: &[u8],
    ceremony: Ceremony,
    is_trusted: impl Fn(&str) -> bool,
) -> Result<Vec<u8>, WebAuthnError> {
    let data: ClientDataJson =
        serde_json::from_slice(json).map_err(|_| WebAuthnError::ClientData)?;
    if data.kind != ceremony.client_data_type() {
        return Err(WebAuthnError::CeremonyType);
    }
    if data.cross_origin || data.top_origin.is_some() || !is_trusted(&data.origin) {
        return Err(WebAuthnError::Origin);
    }
    crate::crypto::b64url_decode(&data.challenge).ok_or(WebAuthnError::ClientData)
}

/// Authenticator data flags (WebAuthn §6.1).
pub mod flags {
    /// User Present.
    pub const UP: u8 = 0x01;
    /// User Verified.
    pub const UV: u8 = 0x04;
    /// Backup Eligible.
    pub const BE: u8 = 0x08;
    /// Backup State.
    pub const BS: u8 = 0x10;
    /// Attested credential data included.
    pub const AT: u8 = 0x40;
    /// Extension data included.
    pub const ED: u8 = 0x80;
}

/// A credential as registration reveals it: its id and its public key (COSE, kept as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential {
    /// The authenticator model (all zeros under `none` attestation from most platforms).
    pub aaguid: [u8; 16],
    /// The credential id, at most 1023 bytes (WebAuthn §6.5.1).
    pub credential_id: Vec<u8>,
    /// The COSE_Key bytes: what a credential record stores and [`CredentialPublicKey::from_cose`] reads.
    pub public_key: Vec<u8>,
}

/// Parsed authenticator data (WebAuthn §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    /// SHA-256 of the RP ID the credential is scoped to; compare with [`rp_id_hash`].
    pub rp_id_hash: [u8; 32],
    /// The flag bits, see [`flags`].
    pub flags: u8,
    /// The signature counter (0 when the authenticator keeps none).
    pub sign_count: u32,
    /// Present in registration responses (flag AT).
    pub attested_credential: Option<AttestedCredential>,
}

/// The longest credential id WebAuthn allows.
const MAX_CREDENTIAL_ID: usize = 1023;

impl AuthenticatorData {
    /// Parses `bytes`; extensions (flag ED) are checked to be one CBOR item and not read.
    pub fn parse(bytes: &[u8]) -> Result<Self, WebAuthnError> {
        let bad = || WebAuthnError::AuthenticatorData;
        let (rp_id_hash, rest) = split::<32>(bytes).ok_or_else(bad)?;
        let ([flags], rest) = split::<1>(rest).ok_or_else(bad)?;
        let (count, mut rest) = split::<4>(rest).ok_or_else(bad)?;
        let attested_credential = if flags & flags::AT != 0 {
            let (aaguid, after) = split::<16>(rest).ok_or_else(bad)?;
            let (len, after) = split::<2>(after).ok_or_else(bad)?;
            let len = usize::from(u16::from_be_bytes(len));
            if len > MAX_CREDENTIAL_ID || after.len() < len {
                return Err(bad());
            }
            let (credential_id, after) = after.split_at(len);
            // The COSE key has no length prefix: its end is where its CBOR item ends.
            let (public_key, after) = one_cbor_item(after).ok_or_else(bad)?;
            rest = after;
            Some(AttestedCredential {
                aaguid,
                credential_id: credential_id.to_vec(),
                public_key: public_key.to_vec(),
            })
        } else {
            None
        };
        if flags & flags::ED != 0 {
            rest = one_cbor_item(rest).ok_or_else(bad)?.1;
        }
        if !rest.is_empty() {
            return Err(bad());
        }
        Ok(AuthenticatorData {
            rp_id_hash,
            flags,
            sign_count: u32::from_be_bytes(count),
            attested_credential,
        })
    }

    /// Whether the user was present (flag UP).
    pub fn user_present(&self) -> bool {
        self.flags & flags::UP != 0
    }

    /// Whether the user was verified (flag UV: a PIN or biometric on the authenticator).
    pub fn user_verified(&self) -> bool {
        self.flags & flags::UV != 0
    }
}

/// SHA-256 of an RP ID, as authenticator data carries it.
pub fn rp_id_hash(rp_id: &str) -> [u8; 32] {
    Sha256::digest(rp_id.as_bytes()).into()
}

fn split<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
    let (head, rest) = bytes.split_at_checked(N)?;
    Some((head.try_into().ok()?, rest))
}

/// The first CBOR data item of `bytes` and what follows it.
fn one_cbor_item(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut reader = bytes;
    let _: Value = coset::cbor::de::from_reader(&mut reader).ok()?;
    Some(bytes.split_at(bytes.len() - reader.len()))
}

/// The attestation object of a registration (WebAuthn §6.5): its format and authenticator
/// data. authfn requests `attestation: "none"` and does not check attestation statements, so
/// `att_stmt` is not read; the format is returned for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationObject {
    /// `fmt`: `"none"` under authfn's default conveyance.
    pub format: String,
    /// `authData`, raw, as signed.
    pub auth_data: Vec<u8>,
}

impl AttestationObject {
    /// Parses the CBOR map `{fmt, attStmt, authData}`.
    pub fn parse(bytes: &[u8]) -> Result<Self, WebAuthnError> {
        let bad = || WebAuthnError::AttestationObject;
        let (item, rest) = one_cbor_item(bytes).ok_or_else(bad)?;
        if !rest.is_empty() {
            return Err(bad());
        }
        let mut reader = item;
        let Value::Map(entries) =
            coset::cbor::de::from_reader::<Value, _>(&mut reader).map_err(|_| bad())?
        else {
            return Err(bad());
        };
        let (mut format, mut auth_data) = (None, None);
        for (key, value) in entries {
            match (key.as_text(), value) {
                (Some("fmt"), Value::Text(f)) => format = Some(f),
                (Some("authData"), Value::Bytes(b)) => auth_data = Some(b),
                _ => {}
            }
        }
        Ok(AttestationObject {
            format: format.ok_or_else(bad)?,
            auth_data: auth_data.ok_or_else(bad)?,
        })
    }
}

/// A credential's public key, ready to verify assertions.
#[derive(Debug, Clone)]
pub struct CredentialPublicKey {
    /// One of [`SUPPORTED_ALGORITHMS`]: ES256 (what nearly every authenticator makes),
    /// EdDSA, or RS256 (Windows Hello).
    alg: Algorithm,
    key: PublicKey,
}

impl CredentialPublicKey {
    /// Reads a COSE_Key; refused unless it is one of [`SUPPORTED_ALGORITHMS`] with matching
    /// key type and curve, coordinates of the curve's size, and (RSA) at least
    /// [`MIN_RSA_BITS`]. Whether the point is on the curve is the verifier's to find out: a
    /// key that is not verifies nothing.
    pub fn from_cose(bytes: &[u8]) -> Result<Self, WebAuthnError> {
        let bad = || WebAuthnError::PublicKey;
        let key = CoseKey::from_slice(bytes).map_err(|_| bad())?;
        let alg = match key.alg {
            Some(coset::RegisteredLabelWithPrivate::Assigned(alg)) => alg,
            _ => return Err(bad()),
        };
        let param = |label: i64| {
            key.params
                .iter()
                .find(|(l, _)| *l == Label::Int(label))
                .map(|(_, v)| v)
        };
        let bytes_param = |label: i64| param(label).and_then(Value::as_bytes);
        let fixed_param = |label: i64| -> Result<[u8; 32], WebAuthnError> {
            bytes_param(label)
                .and_then(|v| v.as_slice().try_into().ok())
                .ok_or_else(bad)
        };
        let int_param = |label: i64| {
            param(label)
                .and_then(Value::as_integer)
                .and_then(|i| i64::try_from(i).ok())
        };
        let (alg, key) = match (alg, &key.kty) {
            (iana::Algorithm::ES256, KeyType::Assigned(iana::KeyType::EC2)) => {
                if int_param(iana::Ec2KeyParameter::Crv.to_i64())
                    != Some(iana::EllipticCurve::P_256.to_i64())
                {
                    return Err(bad());
                }
                let key = PublicKey::P256 {
                    x: fixed_param(iana::Ec2KeyParameter::X.to_i64())?,
                    y: fixed_param(iana::Ec2KeyParameter::Y.to_i64())?,
                };
                (Algorithm::Es256, key)
            }
            (iana::Algorithm::EdDSA, KeyType::Assigned(iana::KeyType::OKP)) => {
                if int_param(iana::OkpKeyParameter::Crv.to_i64())
                    != Some(iana::EllipticCurve::Ed25519.to_i64())
                {
                    return Err(bad());
                }
                let x = fixed_param(iana::OkpKeyParameter::X.to_i64())?;
                (Algorithm::EdDsa, PublicKey::Ed25519(x))
            }
            (iana::Algorithm::RS256, KeyType::Assigned(iana::KeyType::RSA)) => {
                let n = bytes_param(iana::RsaKeyParameter::N.to_i64()).ok_or_else(bad)?;
                let e = bytes_param(iana::RsaKeyParameter::E.to_i64()).ok_or_else(bad)?;
                let key = RsaPublicKey::new(n, e).ok_or_else(bad)?;
                if key.bits() < MIN_RSA_BITS {
                    return Err(bad());
                }
                (Algorithm::Rs256, PublicKey::Rsa(key))
            }
            _ => return Err(bad()),
        };
        Ok(CredentialPublicKey { alg, key })
    }

    /// The COSE algorithm id.
    pub fn algorithm(&self) -> i64 {
        match self.alg {
            Algorithm::Es256 => iana::Algorithm::ES256.to_i64(),
            Algorithm::EdDsa => iana::Algorithm::EdDSA.to_i64(),
            _ => iana::Algorithm::RS256.to_i64(),
        }
    }

    /// Whether `signature` is this key's signature of an assertion: over the authenticator
    /// data followed by SHA-256 of the client data JSON (WebAuthn §7.2 step 20). ES256
    /// signatures are DER (as WebAuthn sends them).
    pub async fn verify_assertion(
        &self,
        authenticator_data: &[u8],
        client_data_json: &[u8],
        signature: &[u8],
    ) -> bool {
        let mut signed = Vec::with_capacity(authenticator_data.len() + 32);
        signed.extend_from_slice(authenticator_data);
        signed.extend_from_slice(&Sha256::digest(client_data_json));
        let fixed;
        let signature = if self.alg == Algorithm::Es256 {
            let Some(sig) = crate::signature::ecdsa_der_to_fixed(signature, 32) else {
                return false;
            };
            fixed = sig;
            &fixed[..]
        } else {
            signature
        };
        crate::signature::verify(&self.key, self.alg, &signed, signature).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coset::CoseKeyBuilder;
    use rsa::signature::{SignatureEncoding, Signer};

    fn auth_data(flags: u8, count: u32, attested: Option<(&[u8], Vec<u8>)>) -> Vec<u8> {
        let mut out = rp_id_hash("example.com").to_vec();
        out.push(flags);
        out.extend_from_slice(&count.to_be_bytes());
        if let Some((id, key)) = attested {
            out.extend_from_slice(&[0; 16]);
            out.extend_from_slice(&u16::try_from(id.len()).unwrap().to_be_bytes());
            out.extend_from_slice(id);
            out.extend_from_slice(&key);
        }
        out
    }

    fn es256() -> (p256::ecdsa::SigningKey, Vec<u8>) {
        let signing = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let point = signing.verifying_key().to_encoded_point(false);
        let cose = CoseKeyBuilder::new_ec2_pub_key(
            iana::EllipticCurve::P_256,
            point.x().unwrap().to_vec(),
            point.y().unwrap().to_vec(),
        )
        .algorithm(iana::Algorithm::ES256)
        .build()
        .to_vec()
        .unwrap();
        (signing, cose)
    }

    #[test]
    fn registration_authenticator_data_yields_the_credential_and_its_key() {
        let (_, cose) = es256();
        let bytes = auth_data(
            flags::UP | flags::UV | flags::AT,
            0,
            Some((b"cred-1", cose.clone())),
        );
        let parsed = AuthenticatorData::parse(&bytes).unwrap();
        assert_eq!(parsed.rp_id_hash, rp_id_hash("example.com"));
        assert!(parsed.user_present() && parsed.user_verified());
        let cred = parsed.attested_credential.unwrap();
        assert_eq!(cred.credential_id, b"cred-1");
        assert_eq!(cred.public_key, cose);
        assert_eq!(
            CredentialPublicKey::from_cose(&cred.public_key)
                .unwrap()
                .algorithm(),
            -7
        );
    }

    #[test]
    fn truncated_or_trailing_authenticator_data_is_refused() {
        let (_, cose) = es256();
        let bytes = auth_data(flags::UP | flags::AT, 0, Some((b"cred-1", cose)));
        for cut in [0, 10, 36, 37, 40, 55, bytes.len() - 1] {
            assert_eq!(
                AuthenticatorData::parse(&bytes[..cut]),
                Err(WebAuthnError::AuthenticatorData),
                "cut at {cut}"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(AuthenticatorData::parse(&long).is_err());
        let plain = auth_data(flags::UP, 9, None);
        assert_eq!(AuthenticatorData::parse(&plain).unwrap().sign_count, 9);
    }

    #[test]
    fn extension_data_is_skipped_as_one_cbor_item_and_flags_read() {
        let mut bytes = auth_data(flags::UP | flags::UV | flags::BE | flags::ED, 5, None);
        // {"credProtect": 2}
        bytes.extend_from_slice(b"\xa1\x6bcredProtect\x02");
        let parsed = AuthenticatorData::parse(&bytes).unwrap();
        assert!(parsed.user_present() && parsed.user_verified());
        assert_eq!(parsed.flags & flags::BE, flags::BE);
        assert_eq!(parsed.sign_count, 5);
        assert!(
            AuthenticatorData::parse(&bytes[..bytes.len() - 1]).is_err(),
            "cut inside the extensions"
        );
        let without_flag = auth_data(flags::UP, 5, None)
            .into_iter()
            .chain(*b"\xa0")
            .collect::<Vec<_>>();
        assert!(
            AuthenticatorData::parse(&without_flag).is_err(),
            "extension bytes without ED"
        );
        let without_user = auth_data(0, 0, None);
        assert!(
            !AuthenticatorData::parse(&without_user)
                .unwrap()
                .user_present()
        );
    }

    #[test]
    fn a_none_attestation_object_gives_its_authenticator_data() {
        let auth = auth_data(flags::UP | flags::AT, 0, Some((b"c", es256().1)));
        let object = Value::Map(vec![
            (Value::Text("fmt".into()), Value::Text("none".into())),
            (Value::Text("attStmt".into()), Value::Map(vec![])),
            (Value::Text("authData".into()), Value::Bytes(auth.clone())),
        ]);
        let mut bytes = Vec::new();
        coset::cbor::ser::into_writer(&object, &mut bytes).unwrap();
        let parsed = AttestationObject::parse(&bytes).unwrap();
        assert_eq!(parsed.format, "none");
        assert_eq!(parsed.auth_data, auth);
        assert!(AttestationObject::parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(AttestationObject::parse(b"\xa0").is_err(), "an empty map");
    }

    #[tokio::test]
    async fn an_es256_assertion_verifies_and_any_change_fails() {
        let (signing, cose) = es256();
        let key = CredentialPublicKey::from_cose(&cose).unwrap();
        let auth = auth_data(flags::UP | flags::UV, 1, None);
        let client = br#"{"type":"webauthn.get","challenge":"abc","origin":"https://example.com"}"#;
        let mut signed = auth.clone();
        signed.extend_from_slice(&Sha256::digest(client));
        let sig: p256::ecdsa::Signature = signing.sign(&signed);
        let der = sig.to_der().to_vec();
        assert!(key.verify_assertion(&auth, client, &der).await);
        assert!(
            !key.verify_assertion(&auth, br#"{"type":"webauthn.get"}"#, &der)
                .await
        );
        assert!(
            !key.verify_assertion(&auth_data(flags::UP, 1, None), client, &der)
                .await
        );
        assert!(
            !key.verify_assertion(&auth, client, &sig.to_bytes()).await,
            "raw r‖s is not DER"
        );
    }

    #[tokio::test]
    async fn an_ed25519_assertion_verifies() {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let cose = CoseKeyBuilder::new_okp_key()
            .param(
                iana::OkpKeyParameter::Crv.to_i64(),
                Value::from(iana::EllipticCurve::Ed25519.to_i64()),
            )
            .param(
                iana::OkpKeyParameter::X.to_i64(),
                Value::Bytes(signing.verifying_key().to_bytes().to_vec()),
            )
            .algorithm(iana::Algorithm::EdDSA)
            .build()
            .to_vec()
            .unwrap();
        let key = CredentialPublicKey::from_cose(&cose).unwrap();
        let (auth, client) = (auth_data(flags::UP, 3, None), b"{}".as_slice());
        let mut signed = auth.clone();
        signed.extend_from_slice(&Sha256::digest(client));
        let sig = ed25519_dalek::Signer::sign(&signing, &signed).to_bytes();
        assert!(key.verify_assertion(&auth, client, &sig).await);
        assert!(!key.verify_assertion(&auth, b"{ }", &sig).await);
    }

    #[tokio::test]
    async fn an_rs256_assertion_verifies() {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let der = crate::crypto::b64url_decode(
            include_str!("../../tests/data/rsa-id-token-key.b64url").trim(),
        )
        .unwrap();
        let private = rsa::RsaPrivateKey::from_pkcs1_der(&der).unwrap();
        let public = private.to_public_key();
        let cose = CoseKeyBuilder::new()
            .key_type(iana::KeyType::RSA)
            .param(
                iana::RsaKeyParameter::N.to_i64(),
                Value::Bytes(public.n().to_bytes_be()),
            )
            .param(
                iana::RsaKeyParameter::E.to_i64(),
                Value::Bytes(public.e().to_bytes_be()),
            )
            .algorithm(iana::Algorithm::RS256)
            .build()
            .to_vec()
            .unwrap();
        let key = CredentialPublicKey::from_cose(&cose).unwrap();
        let (auth, client) = (auth_data(flags::UP, 3, None), b"{}".as_slice());
        let mut signed = auth.clone();
        signed.extend_from_slice(&Sha256::digest(client));
        let sig = rsa::pkcs1v15::SigningKey::<Sha256>::new(private)
            .sign(&signed)
            .to_vec();
        assert!(key.verify_assertion(&auth, client, &sig).await);
        assert!(!key.verify_assertion(&auth, b"[]", &sig).await);
    }

    #[test]
    fn client_data_yields_its_challenge_only_for_its_ceremony_and_a_trusted_origin() {
        let trusted = |o: &str| o == "https://app.example.com";
        let json = |kind: &str, origin: &str, extra: &str| {
            format!(r#"{{"type":"{kind}","challenge":"AAECAw","origin":"{origin}"{extra}}}"#)
                .into_bytes()
        };
        let ok = json(
            "webauthn.get",
            "https://app.example.com",
            r#","crossOrigin":false,"other_keys_can_be_added_here":"x""#,
        );
        assert_eq!(
            check_client_data(&ok, Ceremony::Get, trusted),
            Ok(vec![0, 1, 2, 3])
        );
        let create = json("webauthn.create", "https://app.example.com", "");
        assert_eq!(
            check_client_data(&create, Ceremony::Create, trusted),
            Ok(vec![0, 1, 2, 3])
        );
        assert_eq!(
            check_client_data(&create, Ceremony::Get, trusted),
            Err(WebAuthnError::CeremonyType)
        );
        let cases = [
            (
                json("webauthn.get", "https://evil.example.com", ""),
                WebAuthnError::Origin,
            ),
            (
                json("webauthn.get", "https://app.example.com.evil", ""),
                WebAuthnError::Origin,
            ),
            (
                json(
                    "webauthn.get",
                    "https://app.example.com",
                    r#","crossOrigin":true"#,
                ),
                WebAuthnError::Origin,
            ),
            (
                json(
                    "webauthn.get",
                    "https://app.example.com",
                    r#","topOrigin":"https://evil.example""#,
                ),
                WebAuthnError::Origin,
            ),
            (
                br#"{"type":"webauthn.get","challenge":"AA==","origin":"https://app.example.com"}"#
                    .to_vec(),
                WebAuthnError::ClientData,
            ),
            (
                br#"{"type":"webauthn.get","origin":"https://app.example.com"}"#.to_vec(),
                WebAuthnError::ClientData,
            ),
            (b"not json".to_vec(), WebAuthnError::ClientData),
        ];
        for (data, err) in cases {
            assert_eq!(
                check_client_data(&data, Ceremony::Get, trusted),
                Err(err),
                "{}",
                String::from_utf8_lossy(&data)
            );
        }
    }

    #[test]
    fn keys_whose_algorithm_type_or_curve_disagree_are_refused() {
        let (signing, _) = es256();
        let point = signing.verifying_key().to_encoded_point(false);
        let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
        let no_alg =
            CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x.clone(), y.clone())
                .build()
                .to_vec()
                .unwrap();
        let wrong_curve =
            CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_384, x.clone(), y.clone())
                .algorithm(iana::Algorithm::ES256)
                .build()
                .to_vec()
                .unwrap();
        let wrong_alg = CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x, y)
            .algorithm(iana::Algorithm::EdDSA)
            .build()
            .to_vec()
            .unwrap();
        for bad in [no_alg, wrong_curve, wrong_alg, vec![], b"\xa0".to_vec()] {
            assert_eq!(
                CredentialPublicKey::from_cose(&bad).err(),
                Some(WebAuthnError::PublicKey)
            );
        }
    }
}
