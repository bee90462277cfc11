//! Turns a `User-Agent` into the browser, OS and "device" label a session shows.

use setget_protocol::ADMIN_APP_UA_PRODUCT;

/// Common browsers' user agents, for the demo and the bench data.
pub const COMMON_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
];

/// Browser family, OS family and the label "Chrome on macOS".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub browser: String,
    pub os: String,
    pub label: String,
}

/// Parses a user agent; unknown parts become "Unknown browser" / "Unknown OS".
pub fn parse(user_agent: &str) -> Device {
    let (browser, os) = if let Some(rest) = user_agent.strip_prefix(ADMIN_APP_UA_PRODUCT) {
        // `SetGetAdmin/0.1.0 (Linux x86_64)`
        let os = rest
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(inside, _)| normalise_os(inside))
            .unwrap_or_else(|| "Unknown OS".to_owned());
        ("SetGet Admin".to_owned(), os)
    } else {
        match woothee::parser::Parser::new().parse(user_agent) {
            Some(r) => (normalise_browser(r.name), normalise_os(r.os)),
            None => ("Unknown browser".to_owned(), "Unknown OS".to_owned()),
        }
    };
    let label = format!("{browser} on {os}");
    Device { browser, os, label }
}

fn normalise_browser(name: &str) -> String {
    match name {
        "" | "UNKNOWN" => "Unknown browser".to_owned(),
        "Internet Explorer" => "Internet Explorer".to_owned(),
        other => other.to_owned(),
    }
}

fn normalise_os(os: &str) -> String {
    let os = os.trim();
    let lower = os.to_ascii_lowercase();
    let name = if lower.starts_with("mac") || lower.contains("os x") || lower == "macos" {
        "macOS"
    } else if lower.starts_with("windows") {
        "Windows"
    } else if lower.starts_with("iphone")
        || lower.starts_with("ipad")
        || lower.starts_with("ipod")
        || lower == "ios"
    {
        "iOS"
    } else if lower.starts_with("android") {
        "Android"
    } else if lower.starts_with("chromeos") || lower.starts_with("cros") {
        "ChromeOS"
    } else if lower.starts_with("linux") {
        "Linux"
    } else {
        "Unknown OS"
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ua: &str, expected: &str) {
        assert_eq!(parse(ua).label, expected, "{ua}");
    }

    #[test]
    fn common_browsers_get_normalised_os_names() {
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome on macOS",
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox on Windows",
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        );
        check(
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox on Linux",
        );
        check(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome on ChromeOS",
        );
        check(
            "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
            "Edge on Windows",
        );
    }

    #[test]
    fn the_desktop_app_shows_as_setget_admin() {
        check("SetGetAdmin/0.1.0 (Linux x86_64)", "SetGet Admin on Linux");
        check("SetGetAdmin/0.1.0 (macOS)", "SetGet Admin on macOS");
    }

    #[test]
    fn garbage_is_unknown_not_an_error() {
        check("", "Unknown browser on Unknown OS");
        check("\u{1}\u{2} nonsense", "Unknown browser on Unknown OS");
    }
}
