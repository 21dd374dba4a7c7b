//! Size probe: links the issue 16 groundwork into a wasm32 cdylib.
use authfn::webauthn::CredentialPublicKey;

/// The three signature verifiers, keys from raw bytes (no COSE): what the Worker may already link.
#[unsafe(no_mangle)]
pub extern "C" fn verify_sig(ptr: *const u8, len: usize) -> u32 {
    let input = unsafe { core::slice::from_raw_parts(ptr, len) };
    let (a, b) = input.split_at(len / 2);
    let mut keys = Vec::new();
    if let Ok(k) = p256::ecdsa::VerifyingKey::from_sec1_bytes(a) { keys.push(CredentialPublicKey::Es256(k)); }
    if let Ok(x) = <&[u8; 32]>::try_from(&a[..32.min(a.len())]) {
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_bytes(x) { keys.push(CredentialPublicKey::EdDsa(k)); }
    }
    if let Ok(k) = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(a), rsa::BigUint::from_bytes_be(b)) {
        keys.push(CredentialPublicKey::Rs256(rsa::pkcs1v15::VerifyingKey::new(k)));
    }
    #[cfg(feature = "cose")]
    if let Ok(k) = CredentialPublicKey::from_cose(a) { keys.push(k); }
    keys.iter().map(|k| u32::from(k.verify_assertion(a, b, b))).sum()
}

#[cfg(any(feature = "cose", feature = "aead", feature = "totp"))]
#[unsafe(no_mangle)]
pub extern "C" fn new_parts(ptr: *const u8, len: usize) -> u32 {
    let input = unsafe { core::slice::from_raw_parts(ptr, len) };
    #[allow(unused_mut)]
    let mut n = 0u32;
    let _ = (input, len);
    #[cfg(feature = "cose")]
    if let Ok(a) = authfn::webauthn::AttestationObject::parse(input) {
        if let Ok(d) = authfn::webauthn::AuthenticatorData::parse(&a.auth_data) { n += d.sign_count; }
    }
    #[cfg(feature = "aead")]
    if let Ok(key) = authfn::data_keys::DataKey::new(&input[..32.min(len)]) {
        let ring = authfn::data_keys::DataKeyRing::new(key, vec![]);
        let aad = authfn::data_keys::Aad::new("totp-secret", "u");
        if let Ok(s) = ring.encrypt(aad, input) { n += u32::from(ring.decrypt(aad, &s).is_some()); }
    }
    #[cfg(feature = "totp")]
    if let Some(secret) = authfn::totp::TotpSecret::from_bytes(input) {
        n += u32::from(secret.verify("123456", authfn::UnixTime(i64::from(n))).is_some());
        n += u32::try_from(secret.otpauth_uri("x", "y").len()).unwrap_or(0);
    }
    n
}
