//! The networks of the model: every country's ISPs (broadband, mobile carriers, business,
//! hosting) with their own /16s and /32s, the lines they hand out and where those geolocate,
//! and one sign-in's address through a line or a carrier ([`World`]).

use rand::Rng;
use rand::rngs::StdRng;

use super::event::{Addr, Source};
use super::random::weighted;
use super::tables::{CITIES, COUNTRIES, HOSTING_HUBS, city_named, km};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IspKind {
    Broadband,
    Mobile,
    Business,
    Hosting,
}

/// An ISP: its kind, country, market share and address blocks.
#[derive(Debug)]
pub(super) struct Isp {
    pub(super) kind: IspKind,
    pub(super) country: usize,
    pub(super) share: f64,
    /// IPv4 /16s, as the first two octets.
    pub(super) v4: Vec<[u8; 2]>,
    /// IPv6 /32s, as the first two hextets (empty when IPv4 only).
    pub(super) v6: Vec<[u16; 2]>,
    /// How often a sign-in through it uses IPv6.
    v6_share: f64,
    /// Its autonomous system: a hosting ISP a real hosting provider's, the others one of the
    /// private range (64512 and up) with a made-up organisation.
    pub(super) asn: u32,
    pub(super) org: String,
}

/// The hosting providers the model's hosting ISPs are, in the order of `HOSTING_HUBS`.
const HOSTING: &[(u32, &str)] = &[
    (24940, "Hetzner Online GmbH"),
    (14061, "DigitalOcean, LLC"),
    (16509, "Amazon.com, Inc."),
    (16276, "OVH SAS"),
    (20473, "The Constant Company, LLC"),
    (63949, "Akamai Connected Cloud"),
];

/// Hands out distinct /16s and /32s.
#[derive(Debug, Default)]
struct Allocator {
    v4: usize,
    v6: u32,
}

/// First octets of plausible public unicast space (no private, shared, loopback, multicast
/// or documentation ranges among them).
const FIRST_OCTETS: &[u8] = &[
    2, 5, 24, 31, 37, 46, 50, 62, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,
    80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 104, 107, 108,
    109, 151, 173, 174, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217,
];

impl Allocator {
    fn v4(&mut self) -> [u8; 2] {
        let i = self.v4;
        self.v4 += 1;
        let first = FIRST_OCTETS[(i / 256) % FIRST_OCTETS.len()];
        [first, (i % 256) as u8]
    }

    fn v6(&mut self) -> [u16; 2] {
        let i = self.v6;
        self.v6 += 1;
        [0x2a01 + (i / 0xf000) as u16, 0x0100 + (i % 0xf000) as u16]
    }
}

/// A fixed network: a /24 (and, on dual-stack lines, a /48) and where each geolocates.
#[derive(Debug, Clone)]
pub(super) struct Line {
    pub(super) isp: usize,
    pub(super) v4: [u8; 3],
    pub(super) v4_city: usize,
    /// The host part, stable for a home line (one router), drawn per sign-in elsewhere.
    pub(super) host: Option<u8>,
    pub(super) v6: Option<([u16; 3], usize)>,
}

/// The world: cities by country, and every ISP.
#[derive(Debug)]
pub(super) struct World {
    by_country: Vec<Vec<usize>>,
    pub(super) isps: Vec<Isp>,
    alloc: Allocator,
}

impl World {
    pub(super) fn new(rng: &mut StdRng) -> Self {
        let by_country = COUNTRIES
            .iter()
            .map(|k| {
                (0..CITIES.len())
                    .filter(|&i| CITIES[i].cc == k.cc)
                    .collect()
            })
            .collect();
        let mut world = Self {
            by_country,
            isps: Vec::new(),
            alloc: Allocator::default(),
        };
        for (k, country) in COUNTRIES.iter().enumerate() {
            let member_country = country.members > 0.0;
            let broadband: &[f64] = if member_country {
                &[0.35, 0.28, 0.22, 0.15]
            } else {
                &[0.6, 0.4]
            };
            for &share in broadband {
                let dual = rng.random_bool(0.5);
                world.add(IspKind::Broadband, k, share, 8, usize::from(dual), 0.7);
            }
            let mobile: &[f64] = if member_country {
                &[0.40, 0.35, 0.25]
            } else {
                &[0.6, 0.4]
            };
            for &share in mobile {
                let dual = rng.random_bool(0.6);
                world.add(IspKind::Mobile, k, share, 3, 2 * usize::from(dual), 0.8);
            }
            world.add(IspKind::Business, k, 1.0, 4, 0, 0.0);
        }
        for hub in HOSTING_HUBS {
            let k = world.country_of(city_named(hub));
            world.add(IspKind::Hosting, k, 1.0, 2, 0, 0.0);
        }
        world
    }

    fn add(&mut self, kind: IspKind, country: usize, share: f64, v4: usize, v6: usize, v6s: f64) {
        let v4 = (0..v4).map(|_| self.alloc.v4()).collect();
        let v6: Vec<[u16; 2]> = (0..v6).map(|_| self.alloc.v6()).collect();
        let v6_share = if v6.is_empty() { 0.0 } else { v6s };
        let index = self.isps.len();
        let (asn, org) = match kind {
            IspKind::Hosting => {
                let hosting = self
                    .isps
                    .iter()
                    .filter(|i| i.kind == IspKind::Hosting)
                    .count();
                let (asn, org) = HOSTING[hosting % HOSTING.len()];
                (asn, org.to_owned())
            }
            _ => (
                64_512 + index as u32,
                format!("{} {kind:?} {index}", COUNTRIES[country].name),
            ),
        };
        self.isps.push(Isp {
            kind,
            country,
            share,
            v4,
            v6,
            v6_share,
            asn,
            org,
        });
    }

    pub(super) fn country_of(&self, city: usize) -> usize {
        COUNTRIES
            .iter()
            .position(|k| k.cc == CITIES[city].cc)
            .unwrap_or(0)
    }

    /// The ISPs of a kind in a country.
    fn isps_of(&self, kind: IspKind, country: usize) -> Vec<usize> {
        (0..self.isps.len())
            .filter(|&i| self.isps[i].kind == kind && self.isps[i].country == country)
            .collect()
    }

    /// An ISP of a kind in a country, by market share, other than those in `not`.
    pub(super) fn pick_isp(
        &self,
        rng: &mut StdRng,
        kind: IspKind,
        country: usize,
        not: &[usize],
    ) -> Option<usize> {
        let options: Vec<usize> = self
            .isps_of(kind, country)
            .into_iter()
            .filter(|i| !not.contains(i))
            .collect();
        if options.is_empty() {
            return None;
        }
        Some(options[weighted(rng, &options, |&i| self.isps[i].share)])
    }

    /// The ISP of a hotel's or venue's line: the business ISP (30 %) or a broadband ISP by
    /// market share.
    pub(super) fn fixed_isp(&self, rng: &mut StdRng, country: usize) -> usize {
        let kind = if rng.random_bool(0.3) {
            IspKind::Business
        } else {
            IspKind::Broadband
        };
        self.pick_isp(rng, kind, country, &[]).unwrap_or(0)
    }

    /// A city of a country by population.
    pub(super) fn city_by_population(&self, rng: &mut StdRng, country: usize) -> usize {
        let cities = &self.by_country[country];
        cities[weighted(rng, cities, |&i| CITIES[i].pop)]
    }

    /// Where a fixed line in `city` geolocates: there (75 %), its regional hub (20 %),
    /// anywhere in the country (5 %).
    pub(super) fn line_city(&self, rng: &mut StdRng, city: usize) -> usize {
        let x = rng.random::<f64>();
        if x < 0.75 {
            city
        } else if x < 0.95 {
            self.hub_of(city)
        } else {
            self.city_by_population(rng, self.country_of(city))
        }
    }

    /// The nearest larger city within 150 km, or the city itself.
    pub(super) fn hub_of(&self, city: usize) -> usize {
        self.by_country[self.country_of(city)]
            .iter()
            .copied()
            .filter(|&o| CITIES[o].pop > CITIES[city].pop && km(city, o) < 150.0)
            .min_by(|&a, &b| km(city, a).total_cmp(&km(city, b)))
            .unwrap_or(city)
    }

    /// A new fixed line of `isp` located in `city` (its /24 in a random /16 of the ISP).
    pub(super) fn new_line(
        &self,
        rng: &mut StdRng,
        isp: usize,
        city: usize,
        stable_host: bool,
    ) -> Line {
        let i = &self.isps[isp];
        let block = i.v4[rng.random_range(0..i.v4.len())];
        let v6 = (!i.v6.is_empty()).then(|| {
            let p = i.v6[rng.random_range(0..i.v6.len())];
            ([p[0], p[1], rng.random()], self.line_city(rng, city))
        });
        Line {
            isp,
            v4: [block[0], block[1], rng.random()],
            v4_city: self.line_city(rng, city),
            host: stable_host.then(|| rng.random_range(2..=254)),
            v6,
        }
    }

    /// One sign-in's address through a fixed line.
    pub(super) fn through(&self, rng: &mut StdRng, line: &Line) -> Addr {
        let isp = &self.isps[line.isp];
        if let Some((p, city)) = line.v6
            && rng.random_bool(isp.v6_share)
        {
            let host: u16 = rng.random_range(1..=0xfffe);
            return Addr {
                ip: format!("{:x}:{:x}:{:x}:{:x}::{host:x}", p[0], p[1], p[2], 0),
                city,
                source: Source::Home,
                system: (isp.asn, isp.org.clone()),
            };
        }
        let host = line.host.unwrap_or_else(|| rng.random_range(2..=254));
        let [a, b, c] = line.v4;
        Addr {
            ip: format!("{a}.{b}.{c}.{host}"),
            city: line.v4_city,
            source: Source::Home,
            system: (isp.asn, isp.org.clone()),
        }
    }

    /// One mobile sign-in through `carrier`: a random /24 of a CGNAT pool (or /64 of a
    /// /32), geolocated anywhere in the carrier's country by population.
    pub(super) fn mobile(&self, rng: &mut StdRng, carrier: usize) -> Addr {
        let isp = &self.isps[carrier];
        let city = self.city_by_population(rng, isp.country);
        if !isp.v6.is_empty() && rng.random_bool(isp.v6_share) {
            let p = isp.v6[rng.random_range(0..isp.v6.len())];
            let (x, y, h): (u16, u16, u16) = (rng.random(), rng.random(), rng.random());
            return Addr {
                ip: format!("{:x}:{:x}:{x:x}:{y:x}::{h:x}", p[0], p[1]),
                city,
                source: Source::Mobile,
                system: (isp.asn, isp.org.clone()),
            };
        }
        let [a, b] = isp.v4[rng.random_range(0..isp.v4.len())];
        let (c, d): (u8, u8) = (rng.random(), rng.random_range(1..=254));
        Addr {
            ip: format!("{a}.{b}.{c}.{d}"),
            city,
            source: Source::Mobile,
            system: (isp.asn, isp.org.clone()),
        }
    }
}
