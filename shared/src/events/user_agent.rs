//! The coarse description of a client shown to users and written to events: a browser family
//! and an OS family ("Chrome on macOS"), never the raw `User-Agent`, which is long, partly
//! client-chosen and a fingerprinting aid.
//!
//! Written by hand: the maintained parsers (`uaparser`, `woothee`) carry hundreds of regexes
//! and their data files, far more than naming a dozen families needs, and too much for the
//! Worker's size budget.

/// Browser families, most specific first: Edge and Opera say "Chrome" too, Chrome says
/// "Safari".
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-requests/", "Python"),
    ("okhttp/", "OkHttp"),
];

/// OS families, most specific first: Android says "Linux", iOS says "like Mac OS X".
const SYSTEMS: &[(&str, &str)] = &[
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
];

/// `Chrome on macOS`, `Firefox`, `Linux`, or `Other` for anything unrecognised.
pub fn coarse_user_agent(header: &str) -> String {
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(needle, _)| header.contains(needle))
            .map(|(_, name)| *name)
    };
    match (find(BROWSERS), find(SYSTEMS)) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) => "Other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::coarse_user_agent;

    #[test]
    fn common_browsers_are_named_by_family() {
        let cases = [
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on macOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl"),
            ("", "Other"),
        ];
        for (header, want) in cases {
            assert_eq!(coarse_user_agent(header), want, "{header}");
        }
    }
}
