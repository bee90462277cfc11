//! Where an IP address is: the [`Geo`] lookup that sign-in and IP binding use.

use std::collections::HashMap;
use std::net::IpAddr;

use setget_protocol::Location;

/// Looks up the location of an IP address.
pub trait Geo: Send + Sync + std::fmt::Debug {
    /// The location of `ip`, or None when it is not known.
    fn locate(&self, ip: IpAddr) -> Option<Location>;
}

/// Knows no location: every address is unknown (and IP binding accepts every change).
#[derive(Debug, Default)]
pub struct NoGeo;

impl Geo for NoGeo {
    fn locate(&self, _: IpAddr) -> Option<Location> {
        None
    }
}

/// A fixed table of addresses: for tests.
#[derive(Debug, Default)]
pub struct FixedGeo(pub HashMap<IpAddr, Location>);

impl Geo for FixedGeo {
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        self.0.get(&ip).cloned()
    }
}

/// The network an address belongs to for IP binding: its /24 (IPv4) or /48 (IPv6).
pub fn same_network(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => a.segments()[..3] == b.segments()[..3],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn networks_are_slash_24_and_slash_48() {
        assert!(same_network(ip("81.2.69.142"), ip("81.2.69.1")));
        assert!(!same_network(ip("81.2.69.142"), ip("81.2.70.142")));
        assert!(same_network(ip("2001:db8:1::1"), ip("2001:db8:1:ffff::2")));
        assert!(!same_network(ip("2001:db8:1::1"), ip("2001:db8:2::1")));
        assert!(!same_network(ip("127.0.0.1"), ip("::1")));
    }
}
