//! The WebAuthn Level 3 JSON forms (§5.1.8 `PublicKeyCredential.toJSON()`, §5.4 / §5.5 the
//! options `parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` read): every binary
//! field is unpadded base64url. Options are written by authfn; responses are read from the
//! browser and are untrusted until `ceremony` has checked them.

use serde::{Deserialize, Serialize};

/// The only credential type there is.
pub const PUBLIC_KEY: &str = "public-key";

/// `PublicKeyCredentialCreationOptionsJSON`: what `navigator.credentials.create` is given.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptions {
    /// The relying party: authfn's RP ID and name.
    pub rp: RpEntity,
    /// The account the credential is for.
    pub user: UserEntity,
    /// The challenge, base64url.
    pub challenge: String,
    /// The algorithms accepted, most preferred first.
    pub pub_key_cred_params: Vec<CredentialParameters>,
    /// Milliseconds the browser may wait for the user.
    pub timeout: u64,
    /// The account's passkeys: an authenticator holding one of them makes no second.
    pub exclude_credentials: Vec<CredentialDescriptor>,
    /// A discoverable credential with user verification.
    pub authenticator_selection: AuthenticatorSelection,
    /// `none`: attestation statements are not checked, so none is asked for.
    pub attestation: &'static str,
}

/// `PublicKeyCredentialRpEntity`.
#[derive(Debug, Clone, Serialize)]
pub struct RpEntity {
    /// The RP ID (a domain).
    pub id: String,
    /// The name a browser shows.
    pub name: String,
}

/// `PublicKeyCredentialUserEntityJSON`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEntity {
    /// The user handle, base64url: the account's id, which the authenticator gives back at
    /// sign-in as `userHandle`.
    pub id: String,
    /// What the authenticator lists the credential under (the address).
    pub name: String,
    /// The same, for display.
    pub display_name: String,
}

/// `PublicKeyCredentialParameters`.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialParameters {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A COSE algorithm id.
    pub alg: i64,
}

/// `PublicKeyCredentialDescriptorJSON`.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialDescriptor {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The credential id, base64url.
    pub id: String,
    /// The transports registration reported, as hints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<String>,
}

/// `AuthenticatorSelectionCriteria`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    /// `required`: a passkey must be discoverable, to sign in without a name first.
    pub resident_key: &'static str,
    /// The Level 1 spelling of the same, for older browsers.
    pub require_resident_key: bool,
    /// `required`: a passkey is two factors only with user verification.
    pub user_verification: &'static str,
}

/// `PublicKeyCredentialRequestOptionsJSON`: what `navigator.credentials.get` is given.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOptions {
    /// The challenge, base64url.
    pub challenge: String,
    /// Milliseconds the browser may wait for the user.
    pub timeout: u64,
    /// The RP ID.
    pub rp_id: String,
    /// Empty for a discoverable sign-in; the account's passkeys for a second factor.
    pub allow_credentials: Vec<CredentialDescriptor>,
    /// `required`.
    pub user_verification: &'static str,
}

/// `RegistrationResponseJSON`: what `PublicKeyCredential.toJSON()` gives after `create`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResponse {
    /// The credential id, base64url (the same as `raw_id`).
    pub id: String,
    /// The credential id, base64url.
    pub raw_id: String,
    /// The authenticator's answer.
    pub response: AttestationResponse,
    /// Must be `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `AuthenticatorAttestationResponseJSON`: the members authfn reads (the others, such as
/// `publicKey`, are conveniences for RPs that do not parse the attestation object).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationResponse {
    /// `clientDataJSON`, base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// The CBOR attestation object, base64url.
    pub attestation_object: String,
    /// How the authenticator can be reached (`internal`, `usb`, `hybrid`…).
    #[serde(default)]
    pub transports: Vec<String>,
}

/// `AuthenticationResponseJSON`: what `PublicKeyCredential.toJSON()` gives after `get`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationResponse {
    /// The credential id, base64url (the same as `raw_id`).
    pub id: String,
    /// The credential id, base64url.
    pub raw_id: String,
    /// The authenticator's answer.
    pub response: AssertionResponse,
    /// Must be `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `AuthenticatorAssertionResponseJSON`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionResponse {
    /// `clientDataJSON`, base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// The authenticator data, base64url.
    pub authenticator_data: String,
    /// The signature, base64url.
    pub signature: String,
    /// The user handle the credential was made with, base64url; a discoverable credential
    /// always has one.
    #[serde(default)]
    pub user_handle: Option<String>,
}
