//! The relying party's checks of a registration (WebAuthn L3 §7.1) and of an assertion (§7.2)
//! on top of the crypto core: RP ID hash, flags, algorithm, credential id, signature and
//! counter. What needs the store (the challenge, whose credential it is, the counter's
//! compare-and-set) is the endpoints'; these functions are pure, so each check is tested here.
//!
//! A response is first *parsed* ([`Malformed`]: the client sent something that is not WebAuthn,
//! 400), then *checked* ([`Rejection`]: well-formed but not acceptable, 401). The client is told
//! only which of the two; the log line says which check.

use super::json::{AuthenticationResponse, PUBLIC_KEY, RegistrationResponse};
use super::{
    AttestationObject, AuthenticatorData, Ceremony, CredentialPublicKey, WebAuthnError,
    check_client_data, flags,
};
use crate::config::ConfigError;
use crate::settings::Settings;
use crate::store::CredentialId;

/// Which relying party authfn is: the RP ID every credential is scoped to, and the name
/// browsers show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP ID: a domain, the host of every trusted origin or a parent of it.
    pub id: String,
    /// The name shown at registration.
    pub name: String,
    /// SHA-256 of `id`, as authenticator data carries it.
    pub id_hash: [u8; 32],
}

impl RelyingParty {
    /// `AUTHFN_WEBAUTHN_RP_ID` and `AUTHFN_WEBAUTHN_RP_NAME` (default: the product name).
    ///
    /// A set RP ID must hold every trusted origin on a domain (the origin's host is the RP ID
    /// or a subdomain of it), or start-up fails: a browser there would refuse every passkey
    /// ceremony. Unset, it is the host of `AUTHFN_APP_URL` if that holds every trusted origin,
    /// else the host of the first trusted origin on a domain, else `localhost`; a deployment
    /// made before passkeys, whose origins share no domain, keeps starting (passkeys then work
    /// on the origins within it). Origins on an IP address are let be: browsers offer WebAuthn
    /// only on domains.
    pub(crate) fn from_settings(
        settings: &Settings<'_>,
        trusted_origins: &[String],
        app_url: Option<&url::Url>,
        product_name: &str,
    ) -> Result<Self, ConfigError> {
        let domains: Vec<&str> = trusted_origins
            .iter()
            .filter_map(|o| origin_host(o))
            .filter(|h| is_domain(h))
            .collect();
        let id = match settings.get("AUTHFN_WEBAUTHN_RP_ID") {
            Some(id) => {
                let id = id.to_ascii_lowercase();
                if !is_domain(&id) {
                    return Err(ConfigError::new(format!(
                        "AUTHFN_WEBAUTHN_RP_ID must be a domain like example.com (no scheme, port or path), got {id:?}"
                    )));
                }
                if let Some(outside) = trusted_origins
                    .iter()
                    .find(|o| origin_host(o).is_some_and(|h| is_domain(h) && !within(h, &id)))
                {
                    return Err(ConfigError::new(format!(
                        "AUTHFN_TRUSTED_ORIGINS: {outside} is outside AUTHFN_WEBAUTHN_RP_ID {id} (passkeys could not work there): set it to a domain every trusted origin is in"
                    )));
                }
                id
            }
            None => app_url
                .and_then(|u| u.host_str())
                .filter(|h| is_domain(h) && domains.iter().all(|d| within(d, h)))
                .or_else(|| domains.first().copied())
                .unwrap_or("localhost")
                .to_ascii_lowercase(),
        };
        let name = settings
            .get("AUTHFN_WEBAUTHN_RP_NAME")
            .unwrap_or_else(|| product_name.to_owned());
        Ok(RelyingParty {
            id_hash: super::rp_id_hash(&id),
            id,
            name,
        })
    }
}

/// The host of an origin (`scheme://host[:port]`), without the port.
fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin.split_once("://")?.1;
    if rest.starts_with('[') {
        return None; // an IPv6 literal
    }
    Some(rest.split(':').next().unwrap_or(rest))
}

/// Whether `host` is a domain name (not an IP address): labels of letters, digits and
/// hyphens, not all-numeric at the end.
fn is_domain(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    host.len() <= 253
        && labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `host` is `rp_id` or a subdomain of it.
fn within(host: &str, rp_id: &str) -> bool {
    host == rp_id
        || host
            .strip_suffix(rp_id)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// The client sent something that is not a WebAuthn response: 400 `invalid_credential`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed WebAuthn response: {0}")]
pub struct Malformed(pub &'static str);

/// A well-formed response that fails a check: 401 `passkey_rejected`. The variant names the
/// check for the log; the client is told only that the passkey was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The client data is for the other ceremony.
    #[error("client data of the wrong ceremony type")]
    CeremonyType,
    /// The client data's origin is not trusted, or the call was cross-origin.
    #[error("client data from an untrusted or cross origin")]
    Origin,
    /// The authenticator data is scoped to another RP ID.
    #[error("the RP ID hash is not the configured RP ID's")]
    RpId,
    /// Flag UP is clear.
    #[error("the user was not present (UP clear)")]
    UserPresence,
    /// Flag UV is clear.
    #[error("the user was not verified (UV clear)")]
    UserVerification,
    /// Flag BS set without BE: a credential cannot be backed up unless it may be.
    #[error("backup state set without backup eligibility")]
    BackupState,
    /// A registration without attested credential data (flag AT).
    #[error("no attested credential data")]
    NoCredential,
    /// The attested credential id is not the response's `rawId`.
    #[error("the attested credential id is not the response's rawId")]
    CredentialIdMismatch,
    /// The key's algorithm was not offered, or the key is unusable.
    #[error("a public key authfn did not offer or cannot use")]
    PublicKey,
    /// The assertion signature does not verify under the stored key.
    #[error("the signature does not verify")]
    Signature,
    /// No passkey has this credential id.
    #[error("unknown credential")]
    UnknownCredential,
    /// `userHandle` is missing or is not the credential's user.
    #[error("userHandle is not the credential's user")]
    UserHandle,
    /// The credential is another account's than the pending sign-in's.
    #[error("the credential belongs to another account than the pending sign-in")]
    OtherAccount,
    /// The signature counter did not increase: a cloned authenticator, or a replay.
    #[error("the signature counter went from {stored} to {presented}: a possible clone")]
    CounterRegressed {
        /// The counter stored.
        stored: u32,
        /// The counter presented.
        presented: u32,
    },
    /// Another assertion of this passkey was recorded between our read and our write.
    #[error("a concurrent assertion of this passkey won")]
    LostRace,
}

impl From<WebAuthnError> for Malformed {
    fn from(e: WebAuthnError) -> Self {
        Malformed(match e {
            WebAuthnError::AuthenticatorData => "authenticator data",
            WebAuthnError::AttestationObject => "attestation object",
            WebAuthnError::PublicKey => "credential public key",
            _ => "client data",
        })
    }
}

/// Why a response failed: it was malformed, or it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not WebAuthn: 400.
    Malformed(Malformed),
    /// Refused: 401.
    Rejected(Rejection),
}

impl From<Malformed> for Failure {
    fn from(m: Malformed) -> Self {
        Failure::Malformed(m)
    }
}

impl From<Rejection> for Failure {
    fn from(r: Rejection) -> Self {
        Failure::Rejected(r)
    }
}

fn b64(field: &'static str, value: &str) -> Result<Vec<u8>, Malformed> {
    crate::crypto::b64url_decode(value).ok_or(Malformed(field))
}

fn credential_id(id: &str, raw_id: &str, kind: &str) -> Result<CredentialId, Malformed> {
    if kind != PUBLIC_KEY || id != raw_id {
        return Err(Malformed("type, or id and rawId"));
    }
    CredentialId::new(b64("rawId", raw_id)?).ok_or(Malformed("rawId"))
}

/// Checks the client data JSON for `ceremony` and returns its challenge: the caller takes it
/// from the store before anything else is checked, so a refused response spends it too.
fn challenge_of(
    client_data_json: &[u8],
    ceremony: Ceremony,
    is_trusted: impl Fn(&str) -> bool,
) -> Result<Vec<u8>, Failure> {
    check_client_data(client_data_json, ceremony, is_trusted).map_err(|e| match e {
        WebAuthnError::CeremonyType => Rejection::CeremonyType.into(),
        WebAuthnError::Origin => Rejection::Origin.into(),
        other => Malformed::from(other).into(),
    })
}

/// The flag checks both ceremonies share (§7.1 steps 14–17, §7.2 steps 15–18): this RP ID,
/// the user present and verified, and no backup state without backup eligibility.
fn check_common(data: &AuthenticatorData, rp_id_hash: &[u8; 32]) -> Result<(), Rejection> {
    if !crate::crypto::constant_time_eq(&data.rp_id_hash, rp_id_hash) {
        return Err(Rejection::RpId);
    }
    if !data.user_present() {
        return Err(Rejection::UserPresence);
    }
    if !data.user_verified() {
        return Err(Rejection::UserVerification);
    }
    if data.flags & flags::BS != 0 && data.flags & flags::BE == 0 {
        return Err(Rejection::BackupState);
    }
    Ok(())
}

/// A registration response, decoded but not yet checked.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The challenge its client data carries: the caller takes it from the store.
    pub challenge: Vec<u8>,
    credential_id: CredentialId,
    attestation: AttestationObject,
    auth_data: AuthenticatorData,
    transports: Vec<String>,
}

/// A credential registration revealed and [`Registration::verify`] accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    /// The credential id.
    pub credential_id: CredentialId,
    /// The COSE key, as sent.
    pub public_key: Vec<u8>,
    /// Its COSE algorithm.
    pub algorithm: i64,
    /// The counter at registration.
    pub sign_count: u32,
    /// Flag BE.
    pub backup_eligible: bool,
    /// Flag BS.
    pub backed_up: bool,
    /// The transports the browser reported (at most 8 short ASCII names are kept).
    pub transports: Vec<String>,
    /// The attestation format (`none` from most authenticators), for the log.
    pub format: String,
}

impl Registration {
    /// Decodes `response` and checks its client data (type `webauthn.create`, a trusted
    /// origin, not cross-origin).
    pub fn parse(
        response: &RegistrationResponse,
        is_trusted: impl Fn(&str) -> bool,
    ) -> Result<Self, Failure> {
        let credential_id = credential_id(&response.id, &response.raw_id, &response.kind)?;
        let client_data = b64("clientDataJSON", &response.response.client_data_json)?;
        let attestation = AttestationObject::parse(&b64(
            "attestationObject",
            &response.response.attestation_object,
        )?)
        .map_err(Malformed::from)?;
        let auth_data =
            AuthenticatorData::parse(&attestation.auth_data).map_err(Malformed::from)?;
        let challenge = challenge_of(&client_data, Ceremony::Create, is_trusted)?;
        let transports = response
            .response
            .transports
            .iter()
            .filter(|t| t.len() <= 32 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .take(8)
            .cloned()
            .collect();
        Ok(Registration {
            challenge,
            credential_id,
            attestation,
            auth_data,
            transports,
        })
    }

    /// The checks after the challenge (§7.1 steps 13–22): RP ID hash, UP, UV, BE/BS, attested
    /// credential data present, its id the response's, its key one of `offered`. The
    /// attestation statement is not checked (conveyance `none`, whatever the format).
    pub fn verify(
        self,
        rp_id_hash: &[u8; 32],
        offered: &[i64],
    ) -> Result<NewCredential, Rejection> {
        check_common(&self.auth_data, rp_id_hash)?;
        let attested = self
            .auth_data
            .attested_credential
            .as_ref()
            .ok_or(Rejection::NoCredential)?;
        if attested.credential_id != self.credential_id.as_bytes() {
            return Err(Rejection::CredentialIdMismatch);
        }
        let key = CredentialPublicKey::from_cose(&attested.public_key)
            .map_err(|_| Rejection::PublicKey)?;
        if !offered.contains(&key.algorithm()) {
            return Err(Rejection::PublicKey);
        }
        Ok(NewCredential {
            public_key: attested.public_key.clone(),
            algorithm: key.algorithm(),
            sign_count: self.auth_data.sign_count,
            backup_eligible: self.auth_data.flags & flags::BE != 0,
            backed_up: self.auth_data.flags & flags::BS != 0,
            transports: self.transports,
            format: self.attestation.format,
            credential_id: self.credential_id,
        })
    }
}

/// An authentication response, decoded but not yet checked.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// The challenge its client data carries: the caller takes it from the store.
    pub challenge: Vec<u8>,
    /// The credential it names: the caller finds the passkey.
    pub credential_id: CredentialId,
    /// The user handle, if the authenticator gave one (a discoverable credential always does).
    pub user_handle: Option<Vec<u8>>,
    client_data_json: Vec<u8>,
    raw_auth_data: Vec<u8>,
    auth_data: AuthenticatorData,
    signature: Vec<u8>,
}

/// What a verified assertion changes on its passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The counter to store.
    pub sign_count: u32,
    /// Flag BS now.
    pub backed_up: bool,
}

impl Assertion {
    /// Decodes `response` and checks its client data (type `webauthn.get`, a trusted origin,
    /// not cross-origin).
    pub fn parse(
        response: &AuthenticationResponse,
        is_trusted: impl Fn(&str) -> bool,
    ) -> Result<Self, Failure> {
        let credential_id = credential_id(&response.id, &response.raw_id, &response.kind)?;
        let r = &response.response;
        let client_data_json = b64("clientDataJSON", &r.client_data_json)?;
        let raw_auth_data = b64("authenticatorData", &r.authenticator_data)?;
        let auth_data = AuthenticatorData::parse(&raw_auth_data).map_err(Malformed::from)?;
        let signature = b64("signature", &r.signature)?;
        let user_handle = r
            .user_handle
            .as_deref()
            .map(|h| b64("userHandle", h))
            .transpose()?;
        let challenge = challenge_of(&client_data_json, Ceremony::Get, is_trusted)?;
        Ok(Assertion {
            challenge,
            credential_id,
            user_handle,
            client_data_json,
            raw_auth_data,
            auth_data,
            signature,
        })
    }

    /// The checks after the challenge and the credential's lookup (§7.2 steps 15–22): RP ID
    /// hash, UP, UV, BE/BS, the signature under `public_key` (COSE), and the counter against
    /// `stored_count` (both 0: the authenticator keeps none; else it must grow).
    pub async fn verify(
        &self,
        rp_id_hash: &[u8; 32],
        public_key: &[u8],
        stored_count: u32,
    ) -> Result<Verified, Rejection> {
        check_common(&self.auth_data, rp_id_hash)?;
        let key = CredentialPublicKey::from_cose(public_key).map_err(|_| Rejection::PublicKey)?;
        if !key
            .verify_assertion(&self.raw_auth_data, &self.client_data_json, &self.signature)
            .await
        {
            return Err(Rejection::Signature);
        }
        let presented = self.auth_data.sign_count;
        if (presented != 0 || stored_count != 0) && presented <= stored_count {
            return Err(Rejection::CounterRegressed {
                stored: stored_count,
                presented,
            });
        }
        Ok(Verified {
            sign_count: presented,
            backed_up: self.auth_data.flags & flags::BS != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(
        pairs: &[(&str, &str)],
        origins: &[&str],
        app_url: Option<&str>,
    ) -> Result<RelyingParty, ConfigError> {
        let lookup = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        let settings = Settings::new(&lookup);
        let origins: Vec<String> = origins.iter().map(|o| (*o).to_owned()).collect();
        let app_url = app_url.map(|u| url::Url::parse(u).unwrap());
        RelyingParty::from_settings(&settings, &origins, app_url.as_ref(), "Acme")
    }

    #[test]
    fn the_rp_id_defaults_to_the_app_url_host_then_the_first_domain_origin_then_localhost() {
        let r = rp(
            &[],
            &["https://app.example.com"],
            Some("https://app.example.com/start"),
        )
        .unwrap();
        assert_eq!(
            (r.id.as_str(), r.name.as_str()),
            ("app.example.com", "Acme")
        );
        assert_eq!(r.id_hash, super::super::rp_id_hash("app.example.com"));
        let r = rp(
            &[],
            &["http://127.0.0.1:3000", "http://localhost:3000"],
            None,
        )
        .unwrap();
        assert_eq!(r.id, "localhost");
        assert_eq!(rp(&[], &[], None).unwrap().id, "localhost");
        let r = rp(
            &[
                ("AUTHFN_WEBAUTHN_RP_ID", "Example.com"),
                ("AUTHFN_WEBAUTHN_RP_NAME", "Acme Login"),
            ],
            &[
                "https://app.example.com",
                "https://example.com",
                "https://[::1]",
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            (r.id.as_str(), r.name.as_str()),
            ("example.com", "Acme Login")
        );
    }

    #[test]
    fn a_trusted_origin_outside_a_set_rp_id_is_refused_at_start_up() {
        let e = rp(
            &[("AUTHFN_WEBAUTHN_RP_ID", "app.example.com")],
            &["https://app.example.com", "https://admin.example.com"],
            None,
        )
        .unwrap_err();
        assert!(
            e.message().contains("https://admin.example.com"),
            "{}",
            e.message()
        );
        // A suffix that is not a parent domain is outside too.
        assert!(
            rp(
                &[("AUTHFN_WEBAUTHN_RP_ID", "example.com")],
                &["https://badexample.com"],
                None
            )
            .is_err()
        );
        for bad in [
            "https://example.com",
            "example.com:443",
            "example.com/x",
            "1.2.3.4",
            "-x.example.com",
        ] {
            assert!(
                rp(&[("AUTHFN_WEBAUTHN_RP_ID", bad)], &[], None).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_unset_rp_id_follows_the_origins_when_the_app_url_is_elsewhere() {
        let r = rp(
            &[],
            &["http://localhost:5173"],
            Some("https://app.example.com/"),
        )
        .unwrap();
        assert_eq!(r.id, "localhost");
        let r = rp(
            &[],
            &["https://app.example.com", "https://app.other.org"],
            None,
        )
        .unwrap();
        assert_eq!(r.id, "app.example.com", "starts, as before passkeys");
    }
}
