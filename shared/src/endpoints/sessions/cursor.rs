//! The activity page cursor: opaque to clients, base64url of the last entry's `time.id`.
//! Nothing in it is secret or trusted: it only says where the next page starts, and a made-up
//! one can only start a page of the caller's own activity somewhere else.

use crate::clock::UnixTime;
use crate::crypto;
use crate::events::ActivityCursor;

/// Longer than any cursor authfn makes (a 19-digit time, a dot, an id of at most 64), so
/// nothing larger is decoded.
const MAX_ENCODED_LEN: usize = 128;
/// The longest event id a cursor may name.
const MAX_ID_LEN: usize = 64;

/// The cursor that continues after `cursor`'s entry.
pub(super) fn encode(cursor: &ActivityCursor) -> String {
    crypto::b64url(format!("{}.{}", cursor.time.0, cursor.id).as_bytes())
}

/// The position an encoded cursor names, or `None` when it is not one authfn could have made.
pub(super) fn decode(encoded: &str) -> Option<ActivityCursor> {
    if encoded.len() > MAX_ENCODED_LEN {
        return None;
    }
    let bytes = crypto::b64url_decode(encoded)?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (time, id) = text.split_once('.')?;
    let digits = !time.is_empty() && time.bytes().all(|b| b.is_ascii_digit());
    let id_ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !digits || !id_ok {
        return None;
    }
    Some(ActivityCursor {
        time: UnixTime(time.parse().ok()?),
        id: id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips() {
        let cursor = ActivityCursor {
            time: UnixTime(1_800_000_123),
            id: "AbC-_09xyz".into(),
        };
        assert_eq!(decode(&encode(&cursor)), Some(cursor));
    }

    #[test]
    fn anything_authfn_could_not_have_made_is_refused() {
        let enc = |s: &str| crypto::b64url(s.as_bytes());
        for bad in [
            String::new(),
            "not base64!".into(),
            "AAAA=".into(),
            enc("1800000000"),
            enc(".abc"),
            enc("1800000000."),
            enc("-5.abc"),
            enc("+5.abc"),
            enc("18e8.abc"),
            enc("99999999999999999999999.abc"),
            enc("1800000000.a.b"),
            enc("1800000000.a b"),
            enc(&format!("1.{}", "a".repeat(65))),
            crypto::b64url(&[0xff, 0xfe, b'.', b'a']),
            "A".repeat(MAX_ENCODED_LEN + 1),
        ] {
            assert_eq!(decode(&bad), None, "{bad:?}");
        }
    }
}
