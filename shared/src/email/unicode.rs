//! The four Unicode operations that email normalisation needs: NFKC, lower case, the sets of
//! invisible and text-direction characters, and IDNA (UTS #46, strict).
//!
//! Natively they come from ICU4X and the `idna` crate. On Workers they come from the
//! JavaScript engine, whose own ICU already holds the same tables: compiled into the wasm,
//! ICU4X's normalisation and property data and `idna`'s mapping were 178 KiB of its data
//! and 54 KiB of its code, which every cold isolate fetches (and Rust's lower-casing table
//! another 12 KB). The Worker's lockfile pins
//! `idna_adapter` to its stub (worker/Cargo.toml says how), so `url` links no tables either.

#[cfg(not(target_arch = "wasm32"))]
pub(super) use icu::{domain_to_ascii_strict, has_invisible, lowercase, nfkc};
#[cfg(target_arch = "wasm32")]
pub(super) use javascript::{domain_to_ascii_strict, has_invisible, lowercase, nfkc};

#[cfg(not(target_arch = "wasm32"))]
mod icu {
    use icu_normalizer::ComposingNormalizerBorrowed;
    use icu_properties::CodePointSetDataBorrowed;
    use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint};

    pub(crate) fn nfkc(s: &str) -> String {
        ComposingNormalizerBorrowed::new_nfkc()
            .normalize(s)
            .into_owned()
    }

    /// Unicode's full lower-case mapping (with final sigma), as JavaScript's `toLowerCase`.
    pub(crate) fn lowercase(s: &str) -> String {
        s.to_lowercase()
    }

    /// Whether `s` holds a character that renders as nothing (`Default_Ignorable_Code_Point`)
    /// or only reorders the text around it (`Bidi_Control`).
    pub(crate) fn has_invisible(s: &str) -> bool {
        const IGNORABLE: CodePointSetDataBorrowed<'static> =
            CodePointSetDataBorrowed::new::<DefaultIgnorableCodePoint>();
        const BIDI: CodePointSetDataBorrowed<'static> =
            CodePointSetDataBorrowed::new::<BidiControl>();
        s.chars().any(|c| IGNORABLE.contains(c) || BIDI.contains(c))
    }

    /// UTS #46 ToASCII with UseSTD3ASCIIRules, CheckHyphens and VerifyDnsLength.
    pub(crate) fn domain_to_ascii_strict(domain: &str) -> Option<String> {
        idna::domain_to_ascii_strict(domain).ok()
    }
}

#[cfg(target_arch = "wasm32")]
mod javascript {
    use js_sys::{JsString, RegExp};

    pub(crate) fn nfkc(s: &str) -> String {
        JsString::from(s).normalize("NFKC").into()
    }

    /// Unicode's full lower-case mapping (with final sigma), as Rust's `str::to_lowercase`.
    pub(crate) fn lowercase(s: &str) -> String {
        JsString::from(s).to_lower_case().into()
    }

    thread_local! {
        // Compiled once per isolate; without the `g` flag `test` keeps no state between calls.
        static INVISIBLE: RegExp =
            RegExp::new(r"[\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]", "u");
    }

    /// Whether `s` holds a character that renders as nothing (`Default_Ignorable_Code_Point`)
    /// or only reorders the text around it (`Bidi_Control`).
    pub(crate) fn has_invisible(s: &str) -> bool {
        INVISIBLE.with(|re| re.test(s))
    }

    /// UTS #46 ToASCII with UseSTD3ASCIIRules, CheckHyphens and VerifyDnsLength, as the native
    /// `idna::domain_to_ascii_strict`. The engine's URL parser does the mapping, normalisation,
    /// Punycode and the bidi and joiner rules (the WHATWG URL Standard's "domain to ASCII",
    /// which is UTS #46 without those three checks); the three are applied to its answer here.
    ///
    /// One difference is known: a non-ASCII name whose last label is a number is refused
    /// (URL parsing takes it for an IPv4 address), where the native one accepts it. No mail
    /// domain has a numeric top-level label.
    pub(crate) fn domain_to_ascii_strict(domain: &str) -> Option<String> {
        // Of the ASCII characters, STD3 allows letters, digits and hyphens (and dots between
        // labels); any other would also change how the URL below is parsed.
        if domain
            .bytes()
            .any(|b| b.is_ascii() && !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        {
            return None;
        }
        let lower = domain.to_ascii_lowercase();
        let ascii = if lower.is_ascii() && !lower.split('.').any(|l| l.starts_with("xn--")) {
            // Nothing to map but case, and no Punycode to check.
            lower
        } else {
            web_sys::Url::new(&format!("http://{lower}/"))
                .ok()?
                .hostname()
        };
        let strict =
            idna::uts46::verify_dns_length(&ascii, false) && ascii.split('.').all(label_is_strict);
        strict.then_some(ascii)
    }

    /// STD3 (lower-case letters, digits, hyphens once mapped) and CheckHyphens, which UTS #46
    /// applies to the Unicode form of the label: a Punycode label is decoded first.
    fn label_is_strict(label: &str) -> bool {
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return false;
        }
        let unicode: Vec<char> = match label.strip_prefix("xn--") {
            Some(encoded) => match idna::punycode::decode(encoded) {
                Some(decoded) => decoded,
                None => return false,
            },
            None => label.chars().collect(),
        };
        let hyphen_at = |i: usize| unicode.get(i) == Some(&'-');
        !(hyphen_at(0)
            || unicode.last() == Some(&'-')
            || (unicode.len() >= 4 && hyphen_at(2) && hyphen_at(3)))
    }
}
