//! Where a sign-in comes from, as the rules measure it: the network an address belongs to at
//! a prefix length, and the great-circle distance between two points.

use std::net::IpAddr;

use ipnet::IpNet;

/// The network an address belongs to: its /24 (IPv4) or /48 (IPv6).
pub fn network_of(ip: &str) -> Option<String> {
    let ip = ip.parse().ok()?;
    Some(network_with(ip, (24, 48))?.to_string())
}

/// The network of these prefix lengths (IPv4, IPv6) an address belongs to; an IPv4-mapped
/// IPv6 address is taken as the IPv4 address it is.
pub(crate) fn network_with(ip: IpAddr, (v4, v6): (u8, u8)) -> Option<IpNet> {
    let ip = ip.to_canonical();
    let prefix = if ip.is_ipv4() { v4 } else { v6 };
    Some(IpNet::new(ip, prefix).ok()?.trunc())
}

/// The great-circle distance in km.
pub fn distance_km((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}
