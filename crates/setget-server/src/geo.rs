//! Where an IP address is: the [`Geo`] lookup that sign-in and IP binding use.
//!
//! [`MmdbGeo`] reads MaxMind DB files in either layout: MaxMind's GeoIP2/GeoLite2-City
//! (`city.names.en`, `subdivisions`, `country.iso_code`, `location.latitude`) and the flat
//! city layout of the `@ip-location-db/*-city-mmdb` packages (`city`, `state1`,
//! `country_code`, `latitude` as a 32-bit float). [`bundled`] is a small table built from
//! DB-IP Lite (CC BY 4.0) that covers the demo and the tests. [`Layered`] asks each in turn.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use serde_json::Value;
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

/// A MaxMind DB file.
pub struct MmdbGeo {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for MmdbGeo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmdbGeo")
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl MmdbGeo {
    /// Opens `path`; fails with a clear message if it is not a MaxMind DB file.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let reader = maxminddb::Reader::open_readfile(path)
            .with_context(|| format!("{} is not a readable MaxMind DB file", path.display()))?;
        Ok(Self { reader })
    }
}

impl Geo for MmdbGeo {
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        let found = self.reader.lookup(ip).ok()?;
        let record: Value = found.decode().ok()??;
        location_from_record(&record)
    }
}

/// Reads a record of either layout; None when it names no place.
pub fn location_from_record(record: &Value) -> Option<Location> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let english =
        |v: Option<&Value>| text(v.and_then(|v| v.get("names")).and_then(|n| n.get("en")));
    // Coordinates are coarse; four decimals (about 10 m) is more than they are worth.
    let coordinate = |v: Option<&Value>| {
        v.and_then(Value::as_f64)
            .filter(|c| c.is_finite())
            .map(|c| (c * 10_000.0).round() / 10_000.0)
    };
    let nested = ["city", "country", "location", "subdivisions"]
        .iter()
        .any(|k| {
            record
                .get(*k)
                .is_some_and(|v| v.is_object() || v.is_array())
        });
    let location = if nested {
        Location {
            city: english(record.get("city")),
            region: english(record.get("subdivisions").and_then(|s| s.get(0))),
            country: english(record.get("country")),
            country_code: text(record.get("country").and_then(|c| c.get("iso_code"))),
            latitude: coordinate(record.get("location").and_then(|l| l.get("latitude"))),
            longitude: coordinate(record.get("location").and_then(|l| l.get("longitude"))),
        }
    } else {
        Location {
            city: text(record.get("city")),
            region: text(record.get("state1")),
            country: None,
            country_code: text(record.get("country_code")),
            latitude: coordinate(record.get("latitude")),
            longitude: coordinate(record.get("longitude")),
        }
    };
    (location.city.is_some() || location.country_code.is_some()).then_some(location)
}

/// The bundled table: networks and their places, from DB-IP Lite (CC BY 4.0, by DB-IP.com),
/// regenerated with `cargo xtask geo-data`.
#[derive(Debug)]
pub struct Bundled {
    networks: Vec<(ipnet::IpNet, Location)>,
}

const BUNDLED_CSV: &str = include_str!("../data/geo-dbip-lite.csv");

/// The bundled table, parsed once.
pub fn bundled() -> &'static Bundled {
    static TABLE: OnceLock<Bundled> = OnceLock::new();
    TABLE.get_or_init(|| Bundled::parse(BUNDLED_CSV))
}

impl Bundled {
    /// Parses `network,city,region,country,country_code,latitude,longitude` lines (a header
    /// line and malformed lines are skipped).
    pub fn parse(csv: &str) -> Self {
        let field = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let networks = csv
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split(',').collect();
                let [net, city, region, country, cc, lat, lon] = f.as_slice() else {
                    return None;
                };
                Some((
                    net.parse().ok()?,
                    Location {
                        city: field(city),
                        region: field(region),
                        country: field(country),
                        country_code: field(cc),
                        latitude: lat.parse().ok(),
                        longitude: lon.parse().ok(),
                    },
                ))
            })
            .collect();
        Self { networks }
    }

    /// The networks and their places.
    pub fn networks(&self) -> &[(ipnet::IpNet, Location)] {
        &self.networks
    }

    /// How many networks it knows.
    pub fn len(&self) -> usize {
        self.networks.len()
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

impl Geo for Bundled {
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        self.networks
            .iter()
            .filter(|(net, _)| net.contains(&ip))
            .max_by_key(|(net, _)| net.prefix_len())
            .map(|(_, l)| l.clone())
    }
}

impl Geo for &'static Bundled {
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        (*self).locate(ip)
    }
}

/// Asks each source in order; the first that knows the address answers.
#[derive(Debug, Default)]
pub struct Layered(pub Vec<Arc<dyn Geo>>);

impl Geo for Layered {
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        self.0.iter().find_map(|g| g.locate(ip))
    }
}

/// The network an address belongs to for IP binding: its /24 (IPv4) or /48 (IPv6).
pub fn same_network(a: IpAddr, b: IpAddr) -> bool {
    // An IPv4-mapped IPv6 address (as stored before addresses were made canonical) is its
    // IPv4 address, not a member of `::/48`.
    match (a.to_canonical(), b.to_canonical()) {
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
    fn both_mmdb_layouts_are_read() {
        let geoip2 = serde_json::json!({
            "city": {"names": {"en": "London", "de": "London"}},
            "subdivisions": [{"names": {"en": "England"}, "iso_code": "ENG"}],
            "country": {"names": {"en": "United Kingdom"}, "iso_code": "GB"},
            "location": {"latitude": 51.5142, "longitude": -0.0931, "accuracy_radius": 20}
        });
        let l = location_from_record(&geoip2).unwrap();
        assert_eq!(l.city.as_deref(), Some("London"));
        assert_eq!(l.region.as_deref(), Some("England"));
        assert_eq!(l.country.as_deref(), Some("United Kingdom"));
        assert_eq!(l.country_code.as_deref(), Some("GB"));
        assert_eq!(l.latitude, Some(51.5142));
        let flat = serde_json::json!({
            "city": "Mountain View", "state1": "California", "country_code": "US",
            "latitude": 37.386_051_177_978_516_f64, "longitude": -122.083_847_045_898_44_f64
        });
        let l = location_from_record(&flat).unwrap();
        assert_eq!(l.city.as_deref(), Some("Mountain View"));
        assert_eq!(l.region.as_deref(), Some("California"));
        assert_eq!(l.country_code.as_deref(), Some("US"));
        assert_eq!(l.latitude, Some(37.3861));
        assert_eq!(l.longitude, Some(-122.0838));
        assert_eq!(location_from_record(&serde_json::json!({})), None);
    }

    #[test]
    fn the_bundled_table_prefers_the_most_specific_network() {
        let table = Bundled::parse(
            "network,city,region,country,country_code,latitude,longitude\n\
             81.0.0.0/8,,,United Kingdom,GB,,\n\
             81.2.69.0/24,London,England,United Kingdom,GB,51.5142,-0.0931\n\
             garbage line\n",
        );
        assert_eq!(table.len(), 2);
        let london = table.locate(ip("81.2.69.142"));
        assert_eq!(london.and_then(|l| l.city).as_deref(), Some("London"));
        let uk = table.locate(ip("81.9.9.9"));
        assert_eq!(uk.and_then(|l| l.country_code).as_deref(), Some("GB"));
        assert!(table.locate(ip("10.0.0.1")).is_none());
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
