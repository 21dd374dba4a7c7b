//! RSA keys as their parameters: read from PKCS#1 DER (the `pkcs1` crate, which parses
//! without any big-number arithmetic, so the Worker can read them too) or from a JWK.

use pkcs1::der::Decode;

/// An RSA public key: modulus and exponent, big-endian without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaPublicKey {
    /// The key of modulus `n` and exponent `e` (big-endian, leading zeros allowed); `None`
    /// when either is zero.
    pub fn new(n: &[u8], e: &[u8]) -> Option<Self> {
        let trim = |v: &[u8]| {
            let start = v.iter().position(|&b| b != 0)?;
            Some(v[start..].to_vec())
        };
        Some(RsaPublicKey {
            n: trim(n)?,
            e: trim(e)?,
        })
    }

    /// A PKCS#1 `RSAPublicKey`, DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Option<Self> {
        let key = pkcs1::RsaPublicKey::from_der(der).ok()?;
        Self::new(key.modulus.as_bytes(), key.public_exponent.as_bytes())
    }

    /// The modulus, big-endian (a JWK's `n`).
    pub fn n(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian (a JWK's `e`).
    pub fn e(&self) -> &[u8] {
        &self.e
    }

    /// The modulus's size in bits.
    pub fn bits(&self) -> usize {
        // `new` trimmed the leading zero bytes, so the first byte is not zero.
        self.n.len() * 8 - self.n.first().map_or(0, |b| b.leading_zeros() as usize)
    }
}

crate::secret::secret_type!(
    /// An RSA private key, PKCS#1 `RSAPrivateKey` DER, checked to parse.
    #[derive(Clone)]
    pub struct RsaPrivateKeyDer(Vec<u8>);
);

impl RsaPrivateKeyDer {
    /// The key in `der`, and its public half; an error (naming no key material) when it is
    /// not a two-prime PKCS#1 private key.
    pub fn from_pkcs1_der(der: Vec<u8>) -> Result<(Self, RsaPublicKey), String> {
        let public = {
            let key = pkcs1::RsaPrivateKey::from_der(&der)
                .map_err(|e| format!("not a PKCS#1 RSA private key: {e}"))?;
            if key.other_prime_infos.is_some() {
                return Err("multi-prime RSA keys are not supported".into());
            }
            RsaPublicKey::new(key.modulus.as_bytes(), key.public_exponent.as_bytes())
                .ok_or("not a PKCS#1 RSA private key: zero modulus or exponent")?
        };
        // Natively the key is also checked for consistency now, where a configuration error
        // is reported, rather than at its first signature (WebCrypto checks it on import).
        #[cfg(not(target_arch = "wasm32"))]
        {
            use rsa::pkcs1::DecodeRsaPrivateKey as _;
            rsa::RsaPrivateKey::from_pkcs1_der(&der)
                .map_err(|e| format!("not a valid RSA private key: {e}"))?;
        }
        Ok((RsaPrivateKeyDer(der), public))
    }

    /// The parsed key, for a back end to import.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        expect(
            dead_code,
            reason = "the native back end parses the DER with the rsa crate"
        )
    )]
    pub(crate) fn parsed(&self) -> Option<pkcs1::RsaPrivateKey<'_>> {
        pkcs1::RsaPrivateKey::from_der(&self.0).ok()
    }
}
