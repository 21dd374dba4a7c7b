//! Item encoding of second factors and passkeys: their keys, records to items and back.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::items::{Decoder, n, s, time, user_key};
use super::*;

pub(super) fn totp_key(user_id: &UserId) -> String {
    format!("TOTP#{user_id}")
}

pub(super) fn totp_enrolment_key(user_id: &UserId) -> String {
    format!("TOTPENROL#{user_id}")
}

pub(super) fn recovery_key(user_id: &UserId) -> String {
    format!("RECOVERY#{user_id}")
}

pub(super) fn passkey_key(credential_id: &CredentialId) -> String {
    format!("PASSKEY#{}", credential_id.key().to_hex())
}

pub(super) fn pending_key(token_hash: &TokenHash) -> String {
    format!("PENDING#{}", token_hash.to_hex())
}

pub(super) fn webauthn_key(challenge_hash: &TokenHash) -> String {
    format!("WEBAUTHN#{}", challenge_hash.to_hex())
}

/// The user item's string set naming its passkeys: one `<factor id> <passkey item key>` per
/// passkey, changed in the same transaction as the passkey items. It is how a user's passkeys
/// are found with strongly consistent reads (the index is not), and by factor id.
pub(super) const PASSKEY_ENTRIES: &str = "passkey_entries";

/// A passkey's entry in [`PASSKEY_ENTRIES`].
pub(super) fn passkey_entry(id: &FactorId, credential_id: &CredentialId) -> String {
    format!("{} {}", id.as_str(), passkey_key(credential_id))
}

/// The passkey item keys in a user item's [`PASSKEY_ENTRIES`], by factor id.
pub(super) fn passkey_entries(user: &Item) -> Vec<(String, String)> {
    match user.get(PASSKEY_ENTRIES) {
        Some(AttributeValue::Ss(entries)) => entries
            .iter()
            .filter_map(|e| e.split_once(' '))
            .map(|(id, pk)| (id.to_owned(), pk.to_owned()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The index entry that files an item under its user, so deleting the user finds it.
fn filed_under(user_id: &UserId, pk: String) -> Item {
    HashMap::from([
        (GSI1PK.into(), s(user_key(user_id))),
        (GSI1SK.into(), s(&pk)),
        (PK.into(), s(pk)),
    ])
}

pub(super) fn totp_enrolment_item(enrolment: &TotpEnrolment) -> Item {
    let mut item = filed_under(&enrolment.user_id, totp_enrolment_key(&enrolment.user_id));
    item.insert("secret".into(), s(&enrolment.encrypted_secret));
    item.insert(TTL.into(), time(enrolment.expires_at));
    item
}

pub(super) fn decode_totp_enrolment(user_id: &UserId, item: &Item) -> StoreResult<TotpEnrolment> {
    let d = Decoder::new("TOTP enrolment", item);
    Ok(TotpEnrolment {
        user_id: user_id.clone(),
        encrypted_secret: d.string("secret")?,
        expires_at: d.time(TTL)?,
    })
}

pub(super) fn totp_item(factor: &TotpFactor) -> Item {
    let mut item = filed_under(&factor.user_id, totp_key(&factor.user_id));
    item.insert("secret".into(), s(&factor.encrypted_secret));
    item.insert("created_at".into(), time(factor.created_at));
    if let Some(step) = factor.last_step {
        item.insert("last_step".into(), n(step));
    }
    if let Some(at) = factor.last_used_at {
        item.insert("last_used_at".into(), time(at));
    }
    item
}

pub(super) fn decode_totp(user_id: &UserId, item: &Item) -> StoreResult<TotpFactor> {
    let d = Decoder::new("TOTP factor", item);
    Ok(TotpFactor {
        user_id: user_id.clone(),
        encrypted_secret: d.string("secret")?,
        last_step: d.optional_number("last_step")?,
        created_at: d.time("created_at")?,
        last_used_at: d.optional_number("last_used_at")?.map(UnixTime),
    })
}

pub(super) fn recovery_item(codes: &RecoveryCodes) -> Item {
    let mut item = filed_under(&codes.user_id, recovery_key(&codes.user_id));
    item.insert("created_at".into(), time(codes.created_at));
    // A set cannot be empty: a set with no codes left has no attribute.
    if !codes.code_hashes.is_empty() {
        item.insert(
            "code_hashes".into(),
            AttributeValue::Ss(codes.code_hashes.iter().map(TokenHash::to_hex).collect()),
        );
    }
    item
}

pub(super) fn decode_recovery(user_id: &UserId, item: &Item) -> StoreResult<RecoveryCodes> {
    let d = Decoder::new("recovery codes", item);
    let code_hashes = match item.get("code_hashes") {
        None => Vec::new(),
        Some(AttributeValue::Ss(hashes)) => hashes
            .iter()
            .map(|h| {
                TokenHash::from_hex(h).ok_or_else(|| d.corrupt("code_hashes", "holds a non-hash"))
            })
            .collect::<StoreResult<_>>()?,
        Some(_) => return Err(d.corrupt("code_hashes", "is not a string set")),
    };
    Ok(RecoveryCodes {
        user_id: user_id.clone(),
        code_hashes,
        created_at: d.time("created_at")?,
    })
}

pub(super) fn passkey_item(passkey: &Passkey) -> Item {
    let mut item = filed_under(&passkey.user_id, passkey_key(&passkey.credential_id));
    item.extend([
        ("user_id".into(), s(passkey.user_id.as_str())),
        ("factor_id".into(), s(passkey.id.as_str())),
        (
            "credential_id".into(),
            AttributeValue::B(Blob::new(passkey.credential_id.as_bytes())),
        ),
        (
            "public_key".into(),
            AttributeValue::B(Blob::new(passkey.public_key.as_slice())),
        ),
        ("sign_count".into(), n(passkey.sign_count)),
        (
            "transports".into(),
            AttributeValue::L(passkey.transports.iter().map(s).collect()),
        ),
        ("be".into(), AttributeValue::Bool(passkey.backup_eligible)),
        ("bs".into(), AttributeValue::Bool(passkey.backed_up)),
        ("name".into(), s(&passkey.name)),
        ("created_at".into(), time(passkey.created_at)),
    ]);
    if let Some(at) = passkey.last_used_at {
        item.insert("last_used_at".into(), time(at));
    }
    item
}

pub(super) fn decode_passkey(item: &Item) -> StoreResult<Passkey> {
    let d = Decoder::new("passkey", item);
    let bytes = |name: &str| match item.get(name) {
        Some(AttributeValue::B(blob)) => Ok(blob.as_ref().to_vec()),
        Some(_) => Err(d.corrupt(name, "is not binary")),
        None => Err(d.corrupt(name, "is missing")),
    };
    let transports = match item.get("transports") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|t| match t {
                AttributeValue::S(t) => Ok(t.clone()),
                _ => Err(d.corrupt("transports", "holds a non-string")),
            })
            .collect::<StoreResult<_>>()?,
        _ => return Err(d.corrupt("transports", "is not a list")),
    };
    Ok(Passkey {
        user_id: UserId::from_stored(d.string("user_id")?),
        id: FactorId::from_stored(d.string("factor_id")?),
        credential_id: CredentialId::new(bytes("credential_id")?)
            .ok_or_else(|| d.corrupt("credential_id", "is empty or too long"))?,
        public_key: bytes("public_key")?,
        sign_count: d.number("sign_count")?,
        transports,
        backup_eligible: d.optional_bool("be")?.unwrap_or(false),
        backed_up: d.optional_bool("bs")?.unwrap_or(false),
        name: d.string("name")?,
        created_at: d.time("created_at")?,
        last_used_at: d.optional_number("last_used_at")?.map(UnixTime),
    })
}

pub(super) fn pending_item(pending: &PendingSignIn) -> Item {
    let mut item = filed_under(&pending.user_id, pending_key(&pending.token_hash));
    item.extend([
        ("user_id".into(), s(pending.user_id.as_str())),
        ("user_epoch".into(), n(pending.user_epoch)),
        ("first_factor".into(), s(pending.first_factor.to_stored())),
        ("failures".into(), n(pending.failures)),
        ("created_at".into(), time(pending.created_at)),
        (TTL.into(), time(pending.expires_at)),
    ]);
    item
}

pub(super) fn decode_pending(token_hash: &TokenHash, item: &Item) -> StoreResult<PendingSignIn> {
    let d = Decoder::new("pending sign-in", item);
    Ok(PendingSignIn {
        token_hash: *token_hash,
        user_id: UserId::from_stored(d.string("user_id")?),
        user_epoch: d.number("user_epoch")?,
        first_factor: FirstFactor::from_stored(&d.string("first_factor")?)?,
        failures: d.number("failures")?,
        created_at: d.time("created_at")?,
        expires_at: d.time(TTL)?,
    })
}

pub(super) fn webauthn_item(challenge: &WebAuthnChallenge) -> Item {
    let pk = webauthn_key(&challenge.challenge_hash);
    let stored = challenge.purpose.to_stored();
    let mut item = match stored.registrant {
        // Filed under the registering user, whose id it holds, so deleting the user finds it.
        Some((user_id, user_epoch)) => {
            let mut item = filed_under(user_id, pk);
            item.insert("user_id".into(), s(user_id.as_str()));
            item.insert("user_epoch".into(), n(user_epoch));
            item
        }
        None => HashMap::from([(PK.into(), s(pk))]),
    };
    item.insert("purpose".into(), s(stored.name));
    if let Some(pending) = stored.pending {
        item.insert("pending".into(), s(pending.to_hex()));
    }
    item.insert(TTL.into(), time(challenge.expires_at));
    item
}

pub(super) fn decode_webauthn(hash: &TokenHash, item: &Item) -> StoreResult<WebAuthnChallenge> {
    let d = Decoder::new("WebAuthn challenge", item);
    Ok(WebAuthnChallenge {
        challenge_hash: *hash,
        purpose: CeremonyPurpose::from_stored(
            &d.string("purpose")?,
            || {
                Ok((
                    UserId::from_stored(d.string("user_id")?),
                    d.number("user_epoch")?,
                ))
            },
            || d.hash("pending"),
        )?,
        expires_at: d.time(TTL)?,
    })
}
