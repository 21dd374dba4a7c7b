//! ECDSA signatures as WebAuthn sends them (ASN.1 DER, RFC 3279 §2.2.3) turned into JOSE's
//! fixed-size `r || s` (RFC 7518 §3.4), the one form both back ends take.

use pkcs1::der::asn1::UintRef;
use pkcs1::der::{Decode, Reader, SliceReader};

/// The `r || s` of a DER `Ecdsa-Sig-Value`, each left-padded to `scalar_len` bytes; `None`
/// when it is not exactly one such value or a scalar is too long for the curve.
pub fn ecdsa_der_to_fixed(der: &[u8], scalar_len: usize) -> Option<Vec<u8>> {
    let mut reader = SliceReader::new(der).ok()?;
    let (r, s) = reader
        .sequence(|seq| Ok((UintRef::decode(seq)?, UintRef::decode(seq)?)))
        .ok()?;
    reader.finish(()).ok()?;
    let mut out = vec![0; 2 * scalar_len];
    for (scalar, half) in [r, s].iter().zip(out.chunks_mut(scalar_len)) {
        let bytes = scalar.as_bytes();
        if bytes.len() > scalar_len {
            return None;
        }
        half[scalar_len - bytes.len()..].copy_from_slice(bytes);
    }
    Some(out)
}
