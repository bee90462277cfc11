//! Which autonomous system an address belongs to: its network operator's number and name,
//! recorded with each session and sign-in so that a carrier's many prefixes read as one
//! network.
//!
//! [`AsnTable`] reads the ranges of the `@ip-location-db/asn` package (`start,end,asn,org`,
//! addresses as text or as numbers; RouteViews and DB-IP ASN Lite, CC BY 4.0), and [`MmdbAsn`]
//! a MaxMind DB of the GeoLite2-ASN layout (`autonomous_system_number`,
//! `autonomous_system_organization`). [`bundled`] is a small table cut from the former for
//! the demo and the tests. [`LayeredAsn`] asks each in turn.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use serde_json::Value;

/// An autonomous system: its number and, when known, its organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsInfo {
    pub asn: u32,
    pub org: Option<String>,
}

/// Looks up the autonomous system of an address.
pub trait AsLookup: Send + Sync + std::fmt::Debug {
    /// The system `ip` belongs to, or None when it is not known.
    fn lookup(&self, ip: IpAddr) -> Option<AsInfo>;
}

/// Knows no autonomous system.
#[derive(Debug, Default)]
pub struct NoAsn;

impl AsLookup for NoAsn {
    fn lookup(&self, _: IpAddr) -> Option<AsInfo> {
        None
    }
}

/// An address as a number that orders addresses of one family: IPv4 in the low 32 bits.
fn number(ip: IpAddr) -> (bool, u128) {
    match ip.to_canonical() {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// Ranges of addresses and their systems, sorted by their first address.
#[derive(Debug, Default)]
pub struct AsnTable {
    /// (IPv6?, first, last, asn, index into `orgs`).
    ranges: Vec<(bool, u128, u128, u32, u32)>,
    orgs: Vec<String>,
}

/// One CSV field, unquoted (`"Cloudflare, Inc."` → `Cloudflare, Inc.`).
fn unquote(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_owned(),
    }
}

/// An address in a range file: as text (`1.0.0.0`, `2001:db8::`) or as a number, which is
/// IPv6 when `v6_hint` says so or when it is beyond IPv4's range.
fn address(s: &str, v6_hint: bool) -> Option<(bool, u128)> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(number(ip));
    }
    let n: u128 = s.parse().ok()?;
    Some((v6_hint || n > u128::from(u32::MAX), n))
}

impl AsnTable {
    /// Parses `start,end,asn,organisation` lines; malformed lines and a header are skipped.
    /// `v6` says that bare numbers are IPv6 addresses (the `asn-ipv6-num.csv` file).
    pub fn parse_csv(csv: &str, v6: bool) -> Self {
        let mut table = Self::default();
        let mut interned: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        for line in csv.lines() {
            let mut fields = line.splitn(4, ',');
            let (Some(start), Some(end), Some(asn), Some(org)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let (Some((v6_start, start)), Some((v6_end, end)), Ok(asn)) = (
                address(start.trim(), v6),
                address(end.trim(), v6),
                asn.trim().parse::<u32>(),
            ) else {
                continue;
            };
            if v6_start != v6_end || end < start || asn == 0 {
                continue;
            }
            let org = unquote(org);
            let next = u32::try_from(table.orgs.len()).unwrap_or(u32::MAX);
            let index = *interned.entry(org.clone()).or_insert_with(|| {
                table.orgs.push(org);
                next
            });
            table.ranges.push((v6_start, start, end, asn, index));
        }
        table.ranges.sort_unstable_by_key(|r| (r.0, r.1));
        table
    }

    /// Reads a range file (the family of bare numbers guessed from its name: `ipv6` in it).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{} cannot be read", path.display()))?;
        let v6 = path.to_string_lossy().contains("ipv6");
        let table = Self::parse_csv(&text, v6);
        anyhow::ensure!(
            !table.is_empty(),
            "{} holds no `start,end,asn,organisation` range",
            path.display()
        );
        Ok(table)
    }

    /// How many ranges it knows.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

impl AsLookup for AsnTable {
    fn lookup(&self, ip: IpAddr) -> Option<AsInfo> {
        let (v6, n) = number(ip);
        // The last range starting at or before the address.
        let after = self.ranges.partition_point(|r| (r.0, r.1) <= (v6, n));
        let &(family, _, last, asn, org) = self.ranges.get(after.checked_sub(1)?)?;
        (family == v6 && n <= last).then(|| AsInfo {
            asn,
            org: self
                .orgs
                .get(org as usize)
                .filter(|o| !o.is_empty())
                .cloned(),
        })
    }
}

/// A MaxMind DB of the GeoLite2-ASN layout.
pub struct MmdbAsn {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for MmdbAsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmdbAsn")
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl AsLookup for MmdbAsn {
    fn lookup(&self, ip: IpAddr) -> Option<AsInfo> {
        let found = self.reader.lookup(ip).ok()?;
        let record: Value = found.decode().ok()??;
        as_from_record(&record)
    }
}

/// Reads a GeoLite2-ASN record.
pub fn as_from_record(record: &Value) -> Option<AsInfo> {
    let asn = record
        .get("autonomous_system_number")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)?;
    let org = record
        .get("autonomous_system_organization")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some(AsInfo { asn, org })
}

/// Opens an `--asn` file: a MaxMind DB, else a range file; a clear error when it is neither.
pub fn open(path: &Path) -> anyhow::Result<Arc<dyn AsLookup>> {
    if let Ok(reader) = maxminddb::Reader::open_readfile(path) {
        return Ok(Arc::new(MmdbAsn { reader }));
    }
    AsnTable::open(path)
        .map(|t| Arc::new(t) as Arc<dyn AsLookup>)
        .with_context(|| {
            format!(
                "{} is neither a MaxMind DB (GeoLite2-ASN) nor an @ip-location-db/asn range file",
                path.display()
            )
        })
}

const BUNDLED_CSV: &str = include_str!("../data/asn-lite.csv");

/// The bundled table (from `@ip-location-db/asn`: RouteViews and DB-IP, CC BY 4.0), parsed
/// once; regenerated with `cargo xtask geo-data`.
pub fn bundled() -> &'static AsnTable {
    static TABLE: OnceLock<AsnTable> = OnceLock::new();
    TABLE.get_or_init(|| AsnTable::parse_csv(BUNDLED_CSV, false))
}

impl AsLookup for &'static AsnTable {
    fn lookup(&self, ip: IpAddr) -> Option<AsInfo> {
        (*self).lookup(ip)
    }
}

/// Asks each source in order; the first that knows the address answers.
#[derive(Debug, Default)]
pub struct LayeredAsn(pub Vec<Arc<dyn AsLookup>>);

impl AsLookup for LayeredAsn {
    fn lookup(&self, ip: IpAddr) -> Option<AsInfo> {
        self.0.iter().find_map(|a| a.lookup(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn ranges_are_read_as_text_or_numbers_and_looked_up_by_family() {
        let table = AsnTable::parse_csv(
            "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n\
             16778240,16779263,38803,Gtelecom Pty Ltd\n\
             2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64500,\"Quoted \"\"Name\"\"\"\n\
             not,a,line\n\
             9.9.9.9,9.9.9.0,1,backwards\n",
            false,
        );
        assert_eq!(table.len(), 3);
        let cf = table.lookup(ip("1.0.0.1")).unwrap();
        assert_eq!(
            (cf.asn, cf.org.as_deref()),
            (13335, Some("Cloudflare, Inc."))
        );
        // 16778240 is 1.0.4.0.
        assert_eq!(table.lookup(ip("1.0.4.9")).map(|a| a.asn), Some(38803));
        assert_eq!(
            table.lookup(ip("::ffff:1.0.0.9")).map(|a| a.asn),
            Some(13335)
        );
        let v6 = table.lookup(ip("2001:db8:1::5")).unwrap();
        assert_eq!(v6.org.as_deref(), Some("Quoted \"Name\""));
        // Between ranges, beyond them, and the other family's numbers: unknown.
        assert_eq!(table.lookup(ip("1.0.1.0")), None);
        assert_eq!(table.lookup(ip("255.1.1.1")), None);
        assert_eq!(table.lookup(ip("::1")), None);
        let numbered_v6 = AsnTable::parse_csv("1,100,64501,Small\n", true);
        assert_eq!(numbered_v6.lookup(ip("::50")).map(|a| a.asn), Some(64501));
        assert_eq!(numbered_v6.lookup(ip("0.0.0.50")), None);
    }

    #[test]
    fn geolite2_asn_records_are_read() {
        let record = serde_json::json!({
            "autonomous_system_number": 5089,
            "autonomous_system_organization": "Virgin Media Limited"
        });
        let found = as_from_record(&record).unwrap();
        assert_eq!(
            (found.asn, found.org.as_deref()),
            (5089, Some("Virgin Media Limited"))
        );
        assert_eq!(as_from_record(&serde_json::json!({})), None);
    }

    #[test]
    fn the_bundled_table_knows_the_addresses_the_tests_use() {
        let table = bundled();
        for (address, asn) in [("1.1.1.1", 13335), ("8.8.8.8", 15169)] {
            assert_eq!(
                table.lookup(ip(address)).map(|a| a.asn),
                Some(asn),
                "{address}"
            );
        }
        assert!(table.lookup(ip("81.2.69.142")).is_some());
    }
}
