//! Client addresses as rate limits and the device page see them: parsed with `std::net`, so
//! a malformed value cannot become a budget of its own.

use std::net::{IpAddr, Ipv6Addr};

/// An address as proxies and runtimes write it: `198.51.100.7`, `2001:db8::1`,
/// `[2001:db8::1]:443` or `198.51.100.7:5000`. IPv4-mapped IPv6 counts as the IPv4 address.
pub fn parse(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// What a client's requests are counted under: an IPv4 address on its own, an IPv6 address by
/// its /64 (a subscriber is handed at least a whole /64, so per-address budgets would give one
/// client 2^64 of them), and anything unreadable in one shared `unknown` budget.
pub fn rate_limit_bucket(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => format!("{}/64", prefix64(v6)),
        None => "unknown".into(),
    }
}

/// The network to show a user (the device page): a /24 or /64, coarse enough to say where a
/// request came from without pinpointing a household.
pub fn coarse(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Some(IpAddr::V6(v6)) => format!("{}/64", prefix64(v6)),
        None => "an unknown network".into(),
    }
}

fn prefix64(ip: Ipv6Addr) -> Ipv6Addr {
    let s = ip.segments();
    Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_one_budget_per_64() {
        let a = rate_limit_bucket(parse("2001:db8:1:2::1"));
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(
            rate_limit_bucket(parse("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            a
        );
        assert_eq!(rate_limit_bucket(parse("[2001:db8:1:2::9]:443")), a);
        assert_ne!(rate_limit_bucket(parse("2001:db8:1:3::1")), a);
    }

    #[test]
    fn ipv4_clients_have_one_budget_per_address() {
        assert_eq!(rate_limit_bucket(parse("198.51.100.7")), "198.51.100.7");
        assert_eq!(
            rate_limit_bucket(parse(" 198.51.100.7:5000 ")),
            "198.51.100.7"
        );
        assert_eq!(
            rate_limit_bucket(parse("::ffff:198.51.100.7")),
            "198.51.100.7"
        );
        assert_ne!(rate_limit_bucket(parse("198.51.100.8")), "198.51.100.7");
    }

    #[test]
    fn unreadable_addresses_share_one_budget() {
        for junk in [
            "",
            "unknown",
            "198.51.100",
            "not-an-ip",
            "2001:db8::g",
            "198.51.100.7, 10.0.0.1",
        ] {
            assert_eq!(rate_limit_bucket(parse(junk)), "unknown", "{junk:?}");
        }
    }

    #[test]
    fn users_see_a_coarse_network() {
        assert_eq!(coarse(parse("198.51.100.7")), "198.51.100.0/24");
        assert_eq!(coarse(parse("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_eq!(coarse(None), "an unknown network");
    }
}
