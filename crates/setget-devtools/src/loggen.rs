//! A realistic audit log of a workspace, for measuring the detector: `cargo xtask gen-log`
//! writes one as JSON lines (what `setget-admin detect --replay` reads), and
//! `cargo xtask bench detect` measures the detector on one.
//!
//! The log is deterministic (one seed gives one log) and every event is a valid
//! [`AuditEvent`]: `seq` gap-free from 1, unique ids (UUIDs drawn from the seeded
//! generator), in time order. Each event carries a [`Tag`] kept beside it, never inside it:
//! legitimate, or which account takeover or password spray it belongs to, and where its
//! address came from (home, office, VPN, mobile, roaming, hotel, venue, attacker) for the
//! benchmark's breakdowns.
//!
//! # The model, and its assumptions
//!
//! The aim is a log that looks like a real one to the detector, not one that flatters a
//! rule. Every figure below is an assumption; where a choice had to be made, it leans
//! towards the noisier reality.
//!
//! **Places.** An embedded table of real cities with their real coordinates, metropolitan
//! populations (rounded, in thousands) and standard-time UTC offsets (daylight saving is
//! ignored: it moves local hours by one and changes no distance). Members live in ten
//! countries (GB, US, DE, FR, NL, ES, IT, PL, SE, IE) with several cities each, including
//! commuter towns near the offices; a few more countries serve as travel destinations and
//! attack origins. A location carries city, country and coordinates (no region).
//!
//! **Members.** A company with offices in twelve cities (HQ London). A member lives in a
//! city of their country drawn by population. Members within 90 km of an office of their
//! country are hybrid commuters with probability 0.6 (two to four fixed office days a week,
//! at the office 09:00–17:30 local, commuting an hour either side); the others work from
//! home. 8 % join during the period (new hires); the rest are there from the first day,
//! when the detector first sees the workspace: every member starts in the learning period
//! (conservative: a real first sync learns from the workspace's history).
//! Each member's activity is a log-normal multiplier (σ 0.5, clipped to 0.3–3).
//!
//! **Networks.** Each member country has four broadband ISPs (market shares 35/28/22/15 %),
//! three mobile carriers (40/35/25 %), a business ISP, and the hosting providers of the
//! data-centre hubs; other countries two broadband ISPs, two carriers and a business ISP. Every ISP holds distinct /16s (IPv6:
//! /32s): eight per broadband ISP, three CGNAT pools per carrier, four per business ISP. Half of the broadband ISPs and 60 % of the carriers are
//! dual-stack; a dual-stack sign-in uses IPv6 with probability 0.7 (broadband) or 0.8
//! (mobile).
//! - Home broadband: a stable /24 (and /48) of the member's ISP, geolocated to the home city
//!   (75 %), to the nearest larger city within 150 km (20 %: ISPs register lines at regional
//!   hubs) or to a random city of the country (5 %: database errors). About once every 60
//!   days the line gets a new address (DHCP): a new /24 in the same /16 (80 %) or in another
//!   /16 of the same ISP (20 %), geolocated afresh; the IPv6 prefix changes about every 180
//!   days within the ISP's /32.
//! - Mobile data: carrier-grade NAT. Each mobile sign-in takes a random /24 of one of its
//!   carrier's three /16 pools (or a random /64 of one of its two /32s) and geolocates to a
//!   random city of the country weighted by population: mobile IPs "geolocate all over the
//!   country". Abroad, phones roam with home routing (the usual case in the EU and for most
//!   roaming agreements), so their IPs still geolocate in the home country.
//! - Offices: one /24 per office, geolocated to the office city (85 %) or its regional hub.
//! - Corporate VPN: the egress is four IPs of one /24 geolocated to London. 35 % of members
//!   use it, each for a personal share (30–70 %) of laptop sign-ins outside the office.
//!   Whether the detector trusts it is a parameter of the evaluation, not of the log.
//! - Travel: hotels and venues buy ordinary lines, so a stay's hotel is a new /24 of the
//!   destination country's business ISP (30 %) or of a broadband ISP by market share,
//!   geolocated to the destination (80 %) or elsewhere in the country (20 %); a business
//!   trip also has a venue or client site on such a line; a laptop may tether to the phone.
//!
//! **Devices.** Coarse "Browser on OS" labels, as the server derives them, drawn from a
//! realistic business share: laptops Chrome on Windows 44 %, Edge on Windows 17 %, Chrome
//! on macOS 14 %, Safari on macOS 9 %, Firefox on Windows 5 %, the rest Linux, ChromeOS and
//! Firefox on macOS; phones Safari on iOS 45 %, Chrome on Android 45 %, Chrome on iOS 7 %,
//! Firefox on Android 3 %. Every member has a laptop; 80 % also use the app on a phone.
//! 12 % get a new laptop at a random time whose label differs from the old one (a new
//! machine with the same browser and OS is invisible in the log, so it is not modelled).
//!
//! **Sign-ins.** Sessions end after 7 days of inactivity, and people sign out, clear cookies
//! and switch browsers, so a member signs in a few times a week per device. Per device and
//! day, a Poisson number of sign-ins with mean (times the member's activity): laptop 0.5 on
//! workdays and 0.06 on weekends, phone 0.22 on workdays and 0.12 on weekends; on holiday
//! 0.3 times that. Laptop sign-ins fall mostly in working hours (08:00–18:00, 15 % in the
//! evening), phone sign-ins anywhere between 07:00 and 23:00, local time. 3 % of sign-ins
//! follow one to three mistyped passwords a minute or so earlier. 35 % of sessions end with
//! an explicit sign-out later (ignored by the detector, present for a realistic mix).
//!
//! Where a sign-in comes from: a laptop at home uses the VPN (users, their share) or the
//! home line; at the office, the office network; on a trip, the VPN, a hotel (65 %), a
//! venue (20 % on business trips) or the phone's tethering (15 %). A phone at home is on
//! the home wifi (60 %) or mobile data, at the office on the office wifi (50 %) or mobile
//! data, commuting on mobile data, on a trip on hotel or venue wifi (45 %) or mobile data.
//!
//! **Trips.** Per 120 days, 0.8 domestic trips (one to three nights, a city at least 80 km
//! away drawn by population) and 0.5 international ones (40 % holidays of five to twelve
//! nights, otherwise two to five; the destination country by a travel weight, the city by
//! population); 15 % of members are frequent travellers with three times that. Travel time:
//! under 350 km by train at 110 km/h plus 30 minutes; otherwise by air, the great-circle
//! distance at 800 km/h plus two to three hours at airports. Departures between 06:00 and
//! 19:00 local; no sign-ins while in transit.
//!
//! **Account takeovers.** One per 7 members, each on a distinct victim present at least 21
//! days, at a random instant (uniform over the day, independent of the victim) after the
//! victim's learning period and at least 14 days after they joined. The victim's own
//! activity goes on (an attacker does not sign the victim out). The attacker signs in once,
//! then comes back a Poisson number of times (mean 0.6) within three days, from the same
//! network and device. "After the learning period" means the Okta default: five earlier
//! sign-ins spanning five days. Attackers' devices are a desktop browser (85 %) or a phone's
//! (15 %), each label by the members' share, so an attacker's coarse label often coincides
//! with the victim's. Three kinds, 40/30/30 %:
//! - (a) from a country the victim was never seen in: a residential ISP in one of ten
//!   attack-origin countries or a VPS in a data-centre hub (Frankfurt, Amsterdam, Ashburn,
//!   London, Paris, Singapore) outside the victim's countries; any label;
//! - (b) from another city of the victim's country (by population): a residential proxy or
//!   broadband line of another ISP than the victim's home one (80 %), or another carrier
//!   than the victim's (20 %, its address then geolocating anywhere in the country); any
//!   label. (The victim may have met that ISP's ranges in a hotel: so be it.)
//! - (c) from the victim's home city, a broadband line of another ISP than the victim's, on
//!   a label none of the victim's devices has.
//!
//! **Password sprays.** About one burst per 40 days: a script on one VPS address (device
//! "Unknown browser on Unknown OS") tries one password on 30–80 % of the members, one every
//! 3–12 seconds. And one distributed spray, each try from another residential address with
//! a browser's label, spread over six hours (no count rule sees it).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Datelike as _, Duration, TimeZone as _, Timelike as _, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng, SeedableRng as _};
use setget_detect::distance_km;
use setget_protocol::{AuditEvent, AuthMethod, Location};

/// What an event is, beside the event itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// A member's own sign-in.
    Legit,
    /// A member's own mistyped password.
    LegitFailure,
    /// An attacker signed in from a country the victim was never seen in.
    AtoNewCountry,
    /// An attacker signed in from another city of the victim's country.
    AtoOtherCity,
    /// An attacker signed in from the victim's own city on a device the victim never used.
    AtoOwnCity,
    /// A failed sign-in of a password spray.
    Spray,
    /// Anything else (sign-outs).
    Other,
}

impl Label {
    /// The label as the labels file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Legit => "legit",
            Self::LegitFailure => "legit_failure",
            Self::AtoNewCountry => "ato_new_country",
            Self::AtoOtherCity => "ato_other_city",
            Self::AtoOwnCity => "ato_own_city",
            Self::Spray => "spray",
            Self::Other => "other",
        }
    }

    /// Whether this is an attacker's sign-in.
    pub fn is_ato(self) -> bool {
        matches!(
            self,
            Self::AtoNewCountry | Self::AtoOtherCity | Self::AtoOwnCity
        )
    }
}

/// Where an event's address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The member's home broadband.
    Home,
    /// Their office's network.
    Office,
    /// The corporate VPN's egress.
    Vpn,
    /// Mobile data in the home country (a phone, or a laptop tethered to it).
    Mobile,
    /// Mobile data abroad, routed home by the home carrier.
    Roaming,
    /// A hotel's wifi on a trip.
    Hotel,
    /// A venue's or client's network on a business trip.
    Venue,
    /// An attacker's address (account takeovers and sprays).
    Attacker,
}

impl Source {
    /// The source as the labels file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Home => "home",
            Self::Office => "office",
            Self::Vpn => "vpn",
            Self::Mobile => "mobile",
            Self::Roaming => "roaming",
            Self::Hotel => "hotel",
            Self::Venue => "venue",
            Self::Attacker => "attacker",
        }
    }
}

/// The label of an event, for attacks which one (account takeovers and sprays are numbered
/// separately, from 0), and where its address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub label: Label,
    pub incident: Option<u32>,
    pub source: Source,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub members: usize,
    pub days: u32,
    pub seed: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            members: 300,
            days: 120,
            seed: 20_260_105,
        }
    }
}

/// A generated log: the events, their tags (same order and length) and the facts the
/// evaluation needs.
#[derive(Debug)]
pub struct Generated {
    pub events: Vec<AuditEvent>,
    pub tags: Vec<Tag>,
    /// The corporate VPN's egress network, for evaluating it as trusted.
    pub vpn_network: String,
    /// How many account takeovers and password sprays the log holds.
    pub takeovers: u32,
    pub sprays: u32,
}

/// The first day of every log: Monday 5 January 2026, 00:00 UTC.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

// ---------------------------------------------------------------------------------------
// Places

/// A city: real coordinates, metropolitan population in thousands (rounded), standard-time
/// UTC offset in minutes.
#[derive(Debug, Clone, Copy)]
pub struct City {
    pub name: &'static str,
    pub cc: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub pop: f64,
    pub utc_minutes: i64,
}

const fn c(name: &'static str, cc: &'static str, lat: f64, lon: f64, pop: f64, utc: i64) -> City {
    City {
        name,
        cc,
        lat,
        lon,
        pop,
        utc_minutes: utc,
    }
}

/// The cities.
pub const CITIES: &[City] = &[
    c("London", "GB", 51.5074, -0.1278, 9500.0, 0),
    c("Birmingham", "GB", 52.4862, -1.8904, 2900.0, 0),
    c("Manchester", "GB", 53.4808, -2.2426, 2800.0, 0),
    c("Leeds", "GB", 53.8008, -1.5491, 1900.0, 0),
    c("Glasgow", "GB", 55.8642, -4.2518, 1700.0, 0),
    c("Liverpool", "GB", 53.4084, -2.9916, 1400.0, 0),
    c("Sheffield", "GB", 53.3811, -1.4701, 1300.0, 0),
    c("Newcastle upon Tyne", "GB", 54.9783, -1.6178, 1100.0, 0),
    c("Cardiff", "GB", 51.4816, -3.1791, 1100.0, 0),
    c("Bristol", "GB", 51.4545, -2.5879, 1000.0, 0),
    c("Nottingham", "GB", 52.9548, -1.1581, 900.0, 0),
    c("Edinburgh", "GB", 55.9533, -3.1883, 900.0, 0),
    c("Brighton", "GB", 50.8225, -0.1372, 770.0, 0),
    c("Reading", "GB", 51.4543, -0.9781, 400.0, 0),
    c("Cambridge", "GB", 52.2053, 0.1218, 290.0, 0),
    c("Oxford", "GB", 51.7520, -1.2577, 250.0, 0),
    c("Dublin", "IE", 53.3498, -6.2603, 2000.0, 0),
    c("Cork", "IE", 51.8985, -8.4756, 400.0, 0),
    c("Limerick", "IE", 52.6638, -8.6267, 200.0, 0),
    c("Waterford", "IE", 52.2593, -7.1101, 130.0, 0),
    c("Galway", "IE", 53.2707, -9.0568, 85.0, 0),
    c("Paris", "FR", 48.8566, 2.3522, 12300.0, 60),
    c("Lyon", "FR", 45.7640, 4.8357, 2300.0, 60),
    c("Marseille", "FR", 43.2965, 5.3698, 1900.0, 60),
    c("Lille", "FR", 50.6292, 3.0573, 1500.0, 60),
    c("Toulouse", "FR", 43.6047, 1.4442, 1450.0, 60),
    c("Bordeaux", "FR", 44.8378, -0.5792, 1300.0, 60),
    c("Nice", "FR", 43.7102, 7.2620, 1000.0, 60),
    c("Nantes", "FR", 47.2184, -1.5536, 1000.0, 60),
    c("Strasbourg", "FR", 48.5734, 7.7521, 850.0, 60),
    c("Montpellier", "FR", 43.6108, 3.8767, 800.0, 60),
    c("Rennes", "FR", 48.1173, -1.6778, 750.0, 60),
    c("Grenoble", "FR", 45.1885, 5.7245, 700.0, 60),
    c("Orléans", "FR", 47.9030, 1.9093, 450.0, 60),
    c("Berlin", "DE", 52.5200, 13.4050, 6100.0, 60),
    c("Hamburg", "DE", 53.5511, 9.9937, 3200.0, 60),
    c("Munich", "DE", 48.1351, 11.5820, 2900.0, 60),
    c("Stuttgart", "DE", 48.7758, 9.1829, 2800.0, 60),
    c("Frankfurt am Main", "DE", 50.1109, 8.6821, 2300.0, 60),
    c("Cologne", "DE", 50.9375, 6.9603, 2000.0, 60),
    c("Düsseldorf", "DE", 51.2277, 6.7735, 1500.0, 60),
    c("Nuremberg", "DE", 49.4521, 11.0767, 1300.0, 60),
    c("Hanover", "DE", 52.3759, 9.7320, 1100.0, 60),
    c("Leipzig", "DE", 51.3397, 12.3731, 1000.0, 60),
    c("Dresden", "DE", 51.0504, 13.7373, 800.0, 60),
    c("Augsburg", "DE", 48.3705, 10.8978, 300.0, 60),
    c("Amsterdam", "NL", 52.3676, 4.9041, 2500.0, 60),
    c("Rotterdam", "NL", 51.9244, 4.4777, 1800.0, 60),
    c("The Hague", "NL", 52.0705, 4.3007, 1100.0, 60),
    c("Utrecht", "NL", 52.0907, 5.1214, 900.0, 60),
    c("Eindhoven", "NL", 51.4416, 5.4697, 750.0, 60),
    c("Groningen", "NL", 53.2194, 6.5665, 360.0, 60),
    c("Haarlem", "NL", 52.3874, 4.6462, 250.0, 60),
    c("Madrid", "ES", 40.4168, -3.7038, 6700.0, 60),
    c("Barcelona", "ES", 41.3874, 2.1686, 5600.0, 60),
    c("Valencia", "ES", 39.4699, -0.3763, 1600.0, 60),
    c("Seville", "ES", 37.3891, -5.9845, 1500.0, 60),
    c("Bilbao", "ES", 43.2630, -2.9350, 1000.0, 60),
    c("Málaga", "ES", 36.7213, -4.4214, 1000.0, 60),
    c("Zaragoza", "ES", 41.6488, -0.8891, 780.0, 60),
    c("Alicante", "ES", 38.3452, -0.4810, 750.0, 60),
    c("Toledo", "ES", 39.8628, -4.0273, 85.0, 60),
    c("Milan", "IT", 45.4642, 9.1900, 4300.0, 60),
    c("Rome", "IT", 41.9028, 12.4964, 4300.0, 60),
    c("Naples", "IT", 40.8518, 14.2681, 3100.0, 60),
    c("Turin", "IT", 45.0703, 7.6869, 2200.0, 60),
    c("Palermo", "IT", 38.1157, 13.3615, 1200.0, 60),
    c("Bari", "IT", 41.1171, 16.8719, 1200.0, 60),
    c("Bergamo", "IT", 45.6983, 9.6773, 1100.0, 60),
    c("Bologna", "IT", 44.4949, 11.3426, 1000.0, 60),
    c("Florence", "IT", 43.7696, 11.2558, 1000.0, 60),
    c("Genoa", "IT", 44.4056, 8.9463, 800.0, 60),
    c("Warsaw", "PL", 52.2297, 21.0122, 3100.0, 60),
    c("Katowice", "PL", 50.2649, 19.0238, 2200.0, 60),
    c("Kraków", "PL", 50.0647, 19.9450, 1500.0, 60),
    c("Wrocław", "PL", 51.1079, 17.0385, 1200.0, 60),
    c("Łódź", "PL", 51.7592, 19.4560, 1100.0, 60),
    c("Gdańsk", "PL", 54.3520, 18.6466, 1100.0, 60),
    c("Poznań", "PL", 52.4064, 16.9252, 1000.0, 60),
    c("Lublin", "PL", 51.2465, 22.5684, 650.0, 60),
    c("Stockholm", "SE", 59.3293, 18.0686, 2400.0, 60),
    c("Gothenburg", "SE", 57.7089, 11.9746, 1100.0, 60),
    c("Malmö", "SE", 55.6050, 13.0038, 750.0, 60),
    c("Uppsala", "SE", 59.8586, 17.6389, 390.0, 60),
    c("Örebro", "SE", 59.2753, 15.2134, 300.0, 60),
    c("Linköping", "SE", 58.4108, 15.6214, 300.0, 60),
    c("Västerås", "SE", 59.6099, 16.5448, 280.0, 60),
    c("Umeå", "SE", 63.8258, 20.2630, 150.0, 60),
    c("New York", "US", 40.7128, -74.0060, 19500.0, -300),
    c("Los Angeles", "US", 34.0522, -118.2437, 13000.0, -480),
    c("Chicago", "US", 41.8781, -87.6298, 9400.0, -360),
    c("Dallas", "US", 32.7767, -96.7970, 7600.0, -360),
    c("Houston", "US", 29.7604, -95.3698, 7100.0, -360),
    c("Washington", "US", 38.9072, -77.0369, 6300.0, -300),
    c("Philadelphia", "US", 39.9526, -75.1652, 6200.0, -300),
    c("Atlanta", "US", 33.7490, -84.3880, 6100.0, -300),
    c("Miami", "US", 25.7617, -80.1918, 6100.0, -300),
    c("Boston", "US", 42.3601, -71.0589, 4900.0, -300),
    c("Phoenix", "US", 33.4484, -112.0740, 4900.0, -420),
    c("San Francisco", "US", 37.7749, -122.4194, 4700.0, -480),
    c("Seattle", "US", 47.6062, -122.3321, 4000.0, -480),
    c("Denver", "US", 39.7392, -104.9903, 3000.0, -420),
    c("Austin", "US", 30.2672, -97.7431, 2400.0, -360),
    c("San Jose", "US", 37.3382, -121.8863, 2000.0, -480),
    c("Stamford", "US", 41.0534, -73.5387, 400.0, -300),
    c("Ashburn", "US", 39.0438, -77.4874, 50.0, -300),
    c("Moscow", "RU", 55.7558, 37.6173, 21000.0, 180),
    c("Saint Petersburg", "RU", 59.9311, 30.3609, 6200.0, 180),
    c("Lagos", "NG", 6.5244, 3.3792, 15000.0, 60),
    c("Abuja", "NG", 9.0765, 7.3986, 3600.0, 60),
    c("São Paulo", "BR", -23.5505, -46.6333, 22000.0, -180),
    c("Rio de Janeiro", "BR", -22.9068, -43.1729, 13600.0, -180),
    c("Ho Chi Minh City", "VN", 10.8231, 106.6297, 9000.0, 420),
    c("Hanoi", "VN", 21.0278, 105.8342, 8000.0, 420),
    c("Delhi", "IN", 28.7041, 77.1025, 32000.0, 330),
    c("Mumbai", "IN", 19.0760, 72.8777, 21000.0, 330),
    c("Bengaluru", "IN", 12.9716, 77.5946, 13000.0, 330),
    c("Shanghai", "CN", 31.2304, 121.4737, 29000.0, 480),
    c("Beijing", "CN", 39.9042, 116.4074, 21000.0, 480),
    c("Bucharest", "RO", 44.4268, 26.1025, 2200.0, 120),
    c("Kyiv", "UA", 50.4501, 30.5234, 3000.0, 120),
    c("Jakarta", "ID", -6.2088, 106.8456, 34000.0, 420),
    c("Istanbul", "TR", 41.0082, 28.9784, 15600.0, 180),
    c("Singapore", "SG", 1.3521, 103.8198, 5900.0, 480),
    c("Tokyo", "JP", 35.6762, 139.6503, 37000.0, 540),
    c("Dubai", "AE", 25.2048, 55.2708, 3600.0, 240),
    c("Toronto", "CA", 43.6532, -79.3832, 6700.0, -300),
];

/// A country: who lives there, where the offices are, how often members travel there and
/// whether attackers sign in from there.
#[derive(Debug)]
struct Country {
    cc: &'static str,
    name: &'static str,
    /// Share of the members living there.
    members: f64,
    offices: &'static [&'static str],
    /// Relative weight as an international destination.
    travel: f64,
    /// Whether residential attackers sign in from there (kind (a)).
    attack_origin: bool,
}

const fn country(
    cc: &'static str,
    name: &'static str,
    members: f64,
    offices: &'static [&'static str],
    travel: f64,
    attack_origin: bool,
) -> Country {
    Country {
        cc,
        name,
        members,
        offices,
        travel,
        attack_origin,
    }
}

const COUNTRIES: &[Country] = &[
    country(
        "GB",
        "United Kingdom",
        0.22,
        &["London", "Manchester"],
        1.0,
        false,
    ),
    country(
        "US",
        "United States",
        0.20,
        &["New York", "San Francisco"],
        1.5,
        false,
    ),
    country("DE", "Germany", 0.12, &["Berlin", "Munich"], 1.0, false),
    country("FR", "France", 0.11, &["Paris"], 1.0, false),
    country("NL", "Netherlands", 0.07, &["Amsterdam"], 1.0, false),
    country("ES", "Spain", 0.07, &["Madrid"], 1.0, false),
    country("IT", "Italy", 0.06, &["Milan"], 1.0, false),
    country("PL", "Poland", 0.06, &["Warsaw"], 0.6, false),
    country("SE", "Sweden", 0.05, &["Stockholm"], 0.6, false),
    country("IE", "Ireland", 0.04, &["Dublin"], 0.6, false),
    country("RU", "Russia", 0.0, &[], 0.02, true),
    country("NG", "Nigeria", 0.0, &[], 0.05, true),
    country("BR", "Brazil", 0.0, &[], 0.2, true),
    country("VN", "Vietnam", 0.0, &[], 0.05, true),
    country("IN", "India", 0.0, &[], 0.2, true),
    country("CN", "China", 0.0, &[], 0.1, true),
    country("RO", "Romania", 0.0, &[], 0.1, true),
    country("UA", "Ukraine", 0.0, &[], 0.02, true),
    country("ID", "Indonesia", 0.0, &[], 0.05, true),
    country("TR", "Turkey", 0.0, &[], 0.3, true),
    country("SG", "Singapore", 0.0, &[], 0.3, false),
    country("JP", "Japan", 0.0, &[], 0.3, false),
    country("AE", "United Arab Emirates", 0.0, &[], 0.3, false),
    country("CA", "Canada", 0.0, &[], 0.4, false),
];

/// The city of the company's HQ, where the VPN egress geolocates.
const HQ: &str = "London";

/// Data-centre hubs where attackers rent VPSs.
const HOSTING_HUBS: &[&str] = &[
    "Frankfurt am Main",
    "Amsterdam",
    "Ashburn",
    "London",
    "Paris",
    "Singapore",
];

/// Laptop labels and their share.
const LAPTOPS: &[(&str, f64)] = &[
    ("Chrome on Windows", 0.44),
    ("Edge on Windows", 0.17),
    ("Firefox on Windows", 0.05),
    ("Chrome on macOS", 0.14),
    ("Safari on macOS", 0.09),
    ("Firefox on macOS", 0.02),
    ("Chrome on Linux", 0.03),
    ("Firefox on Linux", 0.03),
    ("Chrome on ChromeOS", 0.03),
];

/// Phone labels and their share.
const PHONES: &[(&str, f64)] = &[
    ("Safari on iOS", 0.45),
    ("Chrome on Android", 0.45),
    ("Chrome on iOS", 0.07),
    ("Firefox on Android", 0.03),
];

/// A user agent the server would label as `device`.
fn user_agent(device: &str) -> &'static str {
    match device {
        "Edge on Windows" => {
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0"
        }
        "Firefox on Windows" => {
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
        }
        "Chrome on macOS" => {
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like \
             Gecko) Chrome/124.0.0.0 Safari/537.36"
        }
        "Safari on macOS" => {
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like \
             Gecko) Version/17.4 Safari/605.1.15"
        }
        "Firefox on macOS" => {
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0"
        }
        "Chrome on Linux" => {
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36"
        }
        "Firefox on Linux" => {
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
        }
        "Chrome on ChromeOS" => {
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36"
        }
        "Safari on iOS" => {
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
        }
        "Chrome on iOS" => {
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1"
        }
        "Chrome on Android" => {
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Mobile Safari/537.36"
        }
        "Firefox on Android" => {
            "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0"
        }
        "Unknown browser on Unknown OS" => "python-requests/2.31.0",
        _ => {
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36"
        }
    }
}

/// The index of a city by name (the tables are consistent; 0 never happens).
fn city_named(name: &str) -> usize {
    CITIES.iter().position(|c| c.name == name).unwrap_or(0)
}

fn km(a: usize, b: usize) -> f64 {
    distance_km(
        (CITIES[a].lat, CITIES[a].lon),
        (CITIES[b].lat, CITIES[b].lon),
    )
}

/// Travel time door to door: by train under 350 km, by air beyond.
fn travel_time(rng: &mut StdRng, from: usize, to: usize) -> Duration {
    let d = km(from, to);
    let hours = if d < 350.0 {
        d / 110.0 + 0.5
    } else {
        d / 800.0 + rng.random_range(2.0..3.0)
    };
    Duration::seconds((hours * 3600.0) as i64)
}

// ---------------------------------------------------------------------------------------
// Randomness

/// An index drawn with the given weights (the first when all are zero).
fn weighted<T>(rng: &mut StdRng, items: &[T], weight: impl Fn(&T) -> f64) -> usize {
    let total: f64 = items.iter().map(&weight).sum();
    if total <= 0.0 {
        return 0;
    }
    let mut x = rng.random::<f64>() * total;
    for (i, item) in items.iter().enumerate() {
        x -= weight(item);
        if x < 0.0 {
            return i;
        }
    }
    items.len() - 1
}

/// A Poisson draw (Knuth; fine for the small means used here).
fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut p = 1.0;
    let mut k = 0;
    loop {
        p *= rng.random::<f64>();
        if p <= limit || k > 100 {
            return k;
        }
        k += 1;
    }
}

/// A UUID v4 from the generator's randomness.
fn uuid(rng: &mut StdRng) -> String {
    let mut v: u128 = rng.random();
    v = (v & !(0xf << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        v >> 96,
        (v >> 80) & 0xffff,
        (v >> 64) & 0xffff,
        (v >> 48) & 0xffff,
        v & 0xffff_ffff_ffff
    )
}

fn pick_label(rng: &mut StdRng, share: &[(&'static str, f64)]) -> &'static str {
    share[weighted(rng, share, |(_, w)| *w)].0
}

/// An attacker's device label: a desktop browser (85 %) or a phone's (15 %), each by its
/// share, other than those in `not`.
fn attacker_device(rng: &mut StdRng, not: &[Option<&'static str>]) -> &'static str {
    let share: Vec<(&'static str, f64)> = LAPTOPS
        .iter()
        .map(|(l, w)| (*l, 0.85 * w))
        .chain(PHONES.iter().map(|(l, w)| (*l, 0.15 * w)))
        .filter(|(l, _)| !not.contains(&Some(*l)))
        .collect();
    pick_label(rng, &share)
}

// ---------------------------------------------------------------------------------------
// Networks

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IspKind {
    Broadband,
    Mobile,
    Business,
    Hosting,
}

/// An ISP: its kind, country, market share and address blocks.
#[derive(Debug)]
struct Isp {
    kind: IspKind,
    country: usize,
    share: f64,
    /// IPv4 /16s, as the first two octets.
    v4: Vec<[u8; 2]>,
    /// IPv6 /32s, as the first two hextets (empty when IPv4 only).
    v6: Vec<[u16; 2]>,
    /// How often a sign-in through it uses IPv6.
    v6_share: f64,
}

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
struct Line {
    isp: usize,
    v4: [u8; 3],
    v4_city: usize,
    /// The host part, stable for a home line (one router), drawn per sign-in elsewhere.
    host: Option<u8>,
    v6: Option<([u16; 3], usize)>,
}

/// How an attacker reaches the service: a fixed line, or a mobile carrier.
#[derive(Debug)]
enum Via {
    Line(Line),
    Mobile(usize),
}

/// The address and geolocated city of one sign-in.
#[derive(Debug, Clone)]
struct Addr {
    ip: String,
    city: usize,
    source: Source,
}

/// The world: cities by country, and every ISP.
#[derive(Debug)]
struct World {
    by_country: Vec<Vec<usize>>,
    isps: Vec<Isp>,
    alloc: Allocator,
}

impl World {
    fn new(rng: &mut StdRng) -> Self {
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
        self.isps.push(Isp {
            kind,
            country,
            share,
            v4,
            v6,
            v6_share,
        });
    }

    fn country_of(&self, city: usize) -> usize {
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
    fn pick_isp(
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
    fn fixed_isp(&self, rng: &mut StdRng, country: usize) -> usize {
        let kind = if rng.random_bool(0.3) {
            IspKind::Business
        } else {
            IspKind::Broadband
        };
        self.pick_isp(rng, kind, country, &[]).unwrap_or(0)
    }

    /// A city of a country by population.
    fn city_by_population(&self, rng: &mut StdRng, country: usize) -> usize {
        let cities = &self.by_country[country];
        cities[weighted(rng, cities, |&i| CITIES[i].pop)]
    }

    /// Where a fixed line in `city` geolocates: there (75 %), its regional hub (20 %),
    /// anywhere in the country (5 %).
    fn line_city(&self, rng: &mut StdRng, city: usize) -> usize {
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
    fn hub_of(&self, city: usize) -> usize {
        self.by_country[self.country_of(city)]
            .iter()
            .copied()
            .filter(|&o| CITIES[o].pop > CITIES[city].pop && km(city, o) < 150.0)
            .min_by(|&a, &b| km(city, a).total_cmp(&km(city, b)))
            .unwrap_or(city)
    }

    /// A new fixed line of `isp` located in `city` (its /24 in a random /16 of the ISP).
    fn new_line(&self, rng: &mut StdRng, isp: usize, city: usize, stable_host: bool) -> Line {
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
    fn through(&self, rng: &mut StdRng, line: &Line) -> Addr {
        let isp = &self.isps[line.isp];
        if let Some((p, city)) = line.v6
            && rng.random_bool(isp.v6_share)
        {
            let host: u16 = rng.random_range(1..=0xfffe);
            return Addr {
                ip: format!("{:x}:{:x}:{:x}:{:x}::{host:x}", p[0], p[1], p[2], 0),
                city,
                source: Source::Home,
            };
        }
        let host = line.host.unwrap_or_else(|| rng.random_range(2..=254));
        let [a, b, c] = line.v4;
        Addr {
            ip: format!("{a}.{b}.{c}.{host}"),
            city: line.v4_city,
            source: Source::Home,
        }
    }

    /// One mobile sign-in through `carrier`: a random /24 of a CGNAT pool (or /64 of a
    /// /32), geolocated anywhere in the carrier's country by population.
    fn mobile(&self, rng: &mut StdRng, carrier: usize) -> Addr {
        let isp = &self.isps[carrier];
        let city = self.city_by_population(rng, isp.country);
        if !isp.v6.is_empty() && rng.random_bool(isp.v6_share) {
            let p = isp.v6[rng.random_range(0..isp.v6.len())];
            let (x, y, h): (u16, u16, u16) = (rng.random(), rng.random(), rng.random());
            return Addr {
                ip: format!("{:x}:{:x}:{x:x}:{y:x}::{h:x}", p[0], p[1]),
                city,
                source: Source::Mobile,
            };
        }
        let [a, b] = isp.v4[rng.random_range(0..isp.v4.len())];
        let (c, d): (u8, u8) = (rng.random(), rng.random_range(1..=254));
        Addr {
            ip: format!("{a}.{b}.{c}.{d}"),
            city,
            source: Source::Mobile,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Members

#[derive(Debug, Clone, Copy)]
struct Office {
    city: usize,
    line: usize,
}

#[derive(Debug)]
struct Trip {
    dest: usize,
    depart: DateTime<Utc>,
    arrive: DateTime<Utc>,
    leave: DateTime<Utc>,
    back: DateTime<Utc>,
    holiday: bool,
    hotel: Line,
    venue: Option<Line>,
}

#[derive(Debug)]
struct Member {
    id: String,
    email: String,
    country: usize,
    home: usize,
    broadband: usize,
    carrier: usize,
    /// The office and which weekdays (Monday = 0) the member goes there.
    office: Option<(Office, [bool; 5])>,
    laptop: &'static str,
    new_laptop: Option<(DateTime<Utc>, &'static str)>,
    phone: Option<&'static str>,
    /// The share of laptop sign-ins away from the office through the VPN.
    vpn: f64,
    activity: f64,
    join: DateTime<Utc>,
    traveller: bool,
}

/// Where a member is at an instant.
#[derive(Debug, Clone, Copy)]
enum Where {
    Home,
    Office(Office),
    Commuting,
    Away(usize),
    InTransit,
}

/// An event before it has a seq and an id.
#[derive(Debug, Clone)]
struct Draft {
    at: DateTime<Utc>,
    event: &'static str,
    member: usize,
    session: Option<String>,
    addr: Addr,
    device: &'static str,
    reason: Option<&'static str>,
    /// Whether the event carries the location (sign-ins do, failures and sign-outs not).
    located: bool,
    tag: Tag,
}

const FIRST: &[&str] = &[
    "maya", "lucas", "amara", "kenji", "sofia", "noah", "priya", "mateo", "ingrid", "omar",
    "chloe", "diego", "hana", "felix", "zara", "liam", "yuki", "elena", "kwame", "ava", "arjun",
    "lena", "tomas", "mei", "jonas", "isla", "rafael", "nora", "sven", "leila", "emma", "oliver",
    "marta", "piotr", "giulia", "lars", "aoife", "pablo", "claire", "anna",
];
const LAST: &[&str] = &[
    "patel",
    "moreau",
    "okafor",
    "tanaka",
    "rossi",
    "schmidt",
    "silva",
    "kowalski",
    "nguyen",
    "haddad",
    "johansson",
    "garcia",
    "kim",
    "murphy",
    "costa",
    "fischer",
    "mensah",
    "ivanova",
    "smith",
    "jones",
    "martin",
    "muller",
    "de vries",
    "lopez",
    "bianchi",
    "nowak",
    "lindqvist",
    "byrne",
    "brown",
    "dubois",
];

/// Which of a member's devices signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Laptop,
    Phone,
}

/// The generator's state.
struct Gen {
    cfg: LogConfig,
    world: World,
    offices: Vec<Office>,
    office_lines: Vec<Line>,
    vpn: Line,
    members: Vec<Member>,
    drafts: Vec<Draft>,
    /// Per member, their own sign-ins: when, and where the address geolocated.
    history: Vec<Vec<(DateTime<Utc>, usize)>>,
    end: DateTime<Utc>,
}

/// Generates a log (see the module's documentation for the model).
pub fn generate(cfg: &LogConfig) -> Generated {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let world = World::new(&mut rng);
    let mut offices = Vec::new();
    let mut office_lines = Vec::new();
    for (k, country) in COUNTRIES.iter().enumerate() {
        for name in country.offices {
            let city = city_named(name);
            let isp = world
                .pick_isp(&mut rng, IspKind::Business, k, &[])
                .unwrap_or(0);
            let mut line = world.new_line(&mut rng, isp, city, false);
            line.v4_city = if rng.random_bool(0.85) {
                city
            } else {
                world.hub_of(city)
            };
            office_lines.push(line);
            offices.push(Office {
                city,
                line: office_lines.len() - 1,
            });
        }
    }
    let hq = city_named(HQ);
    let vpn_isp = world
        .pick_isp(&mut rng, IspKind::Hosting, world.country_of(hq), &[])
        .unwrap_or(0);
    let mut vpn = world.new_line(&mut rng, vpn_isp, hq, false);
    vpn.v4_city = hq;
    let mut generator = Gen {
        cfg: cfg.clone(),
        world,
        offices,
        office_lines,
        vpn,
        members: Vec::new(),
        drafts: Vec::new(),
        history: Vec::new(),
        end: start() + Duration::days(i64::from(cfg.days)),
    };
    for i in 0..cfg.members {
        let mut member_rng = StdRng::seed_from_u64(rng.random());
        let member = generator.new_member(&mut member_rng, i);
        generator.members.push(member);
        generator.history.push(Vec::new());
        generator.simulate(&mut member_rng, i);
    }
    let takeovers = generator.takeovers(&mut StdRng::seed_from_u64(rng.random()));
    let sprays = generator.sprays(&mut StdRng::seed_from_u64(rng.random()));
    generator.finish(&mut StdRng::seed_from_u64(rng.random()), takeovers, sprays)
}

/// Local midnight of day `day` of the log in the time zone of `city`.
fn local_midnight(day: i64, city: usize) -> DateTime<Utc> {
    start() + Duration::days(day) - Duration::minutes(CITIES[city].utc_minutes)
}

fn hours(h: f64) -> Duration {
    Duration::seconds((h * 3600.0) as i64)
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

impl Gen {
    fn new_member(&self, rng: &mut StdRng, i: usize) -> Member {
        let world = &self.world;
        let country = weighted(rng, COUNTRIES, |k| k.members);
        let home = world.city_by_population(rng, country);
        let broadband = world
            .pick_isp(rng, IspKind::Broadband, country, &[])
            .unwrap_or(0);
        let carrier = world
            .pick_isp(rng, IspKind::Mobile, country, &[])
            .unwrap_or(0);
        let office = self
            .offices
            .iter()
            .filter(|o| CITIES[o.city].cc == COUNTRIES[country].cc)
            .min_by(|a, b| km(home, a.city).total_cmp(&km(home, b.city)))
            .copied()
            .filter(|o| km(home, o.city) < 90.0 && rng.random_bool(0.6))
            .map(|o| {
                let mut days = [false; 5];
                let mut order = [0, 1, 2, 3, 4];
                order.shuffle(rng);
                for d in &order[..rng.random_range(2..=4)] {
                    days[*d] = true;
                }
                (o, days)
            });
        let laptop = pick_label(rng, LAPTOPS);
        let phone = rng.random_bool(0.8).then(|| pick_label(rng, PHONES));
        let days = i64::from(self.cfg.days);
        let new_laptop = rng.random_bool(0.12).then(|| {
            let at = start() + Duration::seconds(rng.random_range(0..days * 86_400));
            let others: Vec<(&'static str, f64)> = LAPTOPS
                .iter()
                .copied()
                .filter(|(l, _)| *l != laptop)
                .collect();
            (at, pick_label(rng, &others))
        });
        let vpn = if rng.random_bool(0.35) {
            rng.random_range(0.3..0.7)
        } else {
            0.0
        };
        let activity = (0.5 * normal(rng)).exp().clamp(0.3, 3.0);
        let join = if days > 45 && rng.random_bool(0.08) {
            start() + Duration::days(rng.random_range(10..days - 30))
        } else {
            start()
        };
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())].replace(' ', "");
        Member {
            id: uuid(rng),
            email: format!("{first}.{last}.{i}@acme.test"),
            country,
            home,
            broadband,
            carrier,
            office,
            laptop,
            new_laptop,
            phone,
            vpn,
            activity,
            join,
            traveller: rng.random_bool(0.15),
        }
    }

    /// The member's trips over the period, in order, none overlapping.
    fn trips(&self, rng: &mut StdRng, m: usize) -> Vec<Trip> {
        let member = &self.members[m];
        let world = &self.world;
        let days = i64::from(self.cfg.days);
        let scale = days as f64 / 120.0 * if member.traveller { 3.0 } else { 1.0 };
        let first_day = (member.join - start()).num_days();
        if first_day >= days - 1 {
            return Vec::new();
        }
        // (day, nights, destination, holiday)
        let mut planned = Vec::new();
        for _ in 0..poisson(rng, 0.8 * scale) {
            let mut dest = None;
            for _ in 0..20 {
                let c = world.city_by_population(rng, member.country);
                if km(member.home, c) >= 80.0 {
                    dest = Some(c);
                    break;
                }
            }
            if let Some(dest) = dest {
                let day = rng.random_range(first_day..days);
                planned.push((day, rng.random_range(1..=3), dest, false));
            }
        }
        for _ in 0..poisson(rng, 0.5 * scale) {
            let countries: Vec<usize> = (0..COUNTRIES.len()).collect();
            let k = countries[weighted(rng, &countries, |&k| {
                if k == member.country {
                    0.0
                } else {
                    COUNTRIES[k].travel
                }
            })];
            let dest = world.city_by_population(rng, k);
            let holiday = rng.random_bool(0.4);
            let nights = if holiday {
                rng.random_range(5..=12)
            } else {
                rng.random_range(2..=5)
            };
            let day = rng.random_range(first_day..days);
            planned.push((day, nights, dest, holiday));
        }
        planned.sort_by_key(|p| p.0);
        let mut trips: Vec<Trip> = Vec::new();
        let mut free_from = first_day;
        for (day, nights, dest, holiday) in planned {
            if day < free_from {
                continue;
            }
            free_from = day + nights + 2;
            let depart = local_midnight(day, member.home) + hours(rng.random_range(6.0..19.0));
            let arrive = depart + travel_time(rng, member.home, dest);
            let mut leave = local_midnight(day + nights, dest) + hours(rng.random_range(8.0..19.0));
            if leave < arrive + Duration::hours(4) {
                leave = arrive + Duration::hours(4);
            }
            let back = leave + travel_time(rng, dest, member.home);
            let k = world.country_of(dest);
            let isp = world.fixed_isp(rng, k);
            let mut hotel = world.new_line(rng, isp, dest, false);
            hotel.v4_city = if rng.random_bool(0.8) {
                dest
            } else {
                world.city_by_population(rng, k)
            };
            let venue = (!holiday).then(|| {
                let isp = world.fixed_isp(rng, k);
                world.new_line(rng, isp, dest, false)
            });
            trips.push(Trip {
                dest,
                depart,
                arrive,
                leave,
                back,
                holiday,
                hotel,
                venue,
            });
        }
        trips
    }

    /// Where member `m` is at `at`.
    fn where_at(&self, m: usize, trips: &[Trip], at: DateTime<Utc>) -> Where {
        for (i, t) in trips.iter().enumerate() {
            if (t.depart <= at && at < t.arrive) || (t.leave <= at && at < t.back) {
                return Where::InTransit;
            }
            if t.arrive <= at && at < t.leave {
                return Where::Away(i);
            }
        }
        let member = &self.members[m];
        if let Some((office, days)) = member.office {
            let local = at + Duration::minutes(CITIES[member.home].utc_minutes);
            let weekday = local.weekday().num_days_from_monday() as usize;
            let hour = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
            if weekday < 5 && days[weekday] {
                if (9.0..17.5).contains(&hour) {
                    return Where::Office(office);
                }
                if (8.0..9.0).contains(&hour) || (17.5..18.5).contains(&hour) {
                    return Where::Commuting;
                }
            }
        }
        Where::Home
    }

    /// The address of a sign-in by `kind` from `place`.
    fn address(
        &self,
        rng: &mut StdRng,
        m: usize,
        kind: Kind,
        place: Where,
        trips: &[Trip],
        home: &Line,
    ) -> Addr {
        let member = &self.members[m];
        let world = &self.world;
        let via = |rng: &mut StdRng, line: &Line, source| Addr {
            source,
            ..world.through(rng, line)
        };
        match (kind, place) {
            (Kind::Laptop, Where::Home) => {
                if rng.random_bool(member.vpn) {
                    via(rng, &self.vpn, Source::Vpn)
                } else {
                    via(rng, home, Source::Home)
                }
            }
            (_, Where::Office(o)) if kind == Kind::Laptop || rng.random_bool(0.5) => {
                via(rng, &self.office_lines[o.line], Source::Office)
            }
            (Kind::Phone, Where::Home) if rng.random_bool(0.6) => via(rng, home, Source::Home),
            (_, Where::Away(t)) => {
                let trip = &trips[t];
                let x = rng.random::<f64>();
                let (hotel, venue) = match kind {
                    Kind::Laptop if rng.random_bool(member.vpn) => {
                        return via(rng, &self.vpn, Source::Vpn);
                    }
                    Kind::Laptop => (0.65, 0.85),
                    Kind::Phone => (0.35, 0.45),
                };
                match &trip.venue {
                    _ if x < hotel => via(rng, &trip.hotel, Source::Hotel),
                    Some(venue_line) if x < venue => via(rng, venue_line, Source::Venue),
                    None if x < venue => via(rng, &trip.hotel, Source::Hotel),
                    _ => {
                        let abroad = CITIES[trip.dest].cc != COUNTRIES[member.country].cc;
                        Addr {
                            source: if abroad {
                                Source::Roaming
                            } else {
                                Source::Mobile
                            },
                            ..world.mobile(rng, member.carrier)
                        }
                    }
                }
            }
            _ => world.mobile(rng, member.carrier),
        }
    }

    /// Member `m`'s own activity: sign-ins, mistyped passwords, sign-outs.
    fn simulate(&mut self, rng: &mut StdRng, m: usize) {
        let trips = self.trips(rng, m);
        let member = &self.members[m];
        let world = &self.world;
        let mut home = world.new_line(rng, member.broadband, member.home, true);
        let days = i64::from(self.cfg.days);
        let mut drafts = Vec::new();
        let mut history = Vec::new();
        for day in 0..days {
            // The home line's address changes now and then (DHCP).
            if rng.random_bool(1.0 / 60.0) {
                let isp = &world.isps[home.isp];
                if rng.random_bool(0.2) {
                    home.v4[..2].copy_from_slice(&isp.v4[rng.random_range(0..isp.v4.len())]);
                }
                home.v4[2] = rng.random();
                home.host = Some(rng.random_range(2..=254));
                home.v4_city = world.line_city(rng, member.home);
            }
            if rng.random_bool(1.0 / 180.0)
                && let Some((prefix, city)) = &mut home.v6
            {
                prefix[2] = rng.random();
                *city = world.line_city(rng, member.home);
            }
            let noon = local_midnight(day, member.home) + Duration::hours(12);
            if noon + Duration::hours(12) < member.join {
                continue;
            }
            let trip = trips.iter().find(|t| t.arrive <= noon && noon < t.leave);
            let zone = trip.map_or(member.home, |t| t.dest);
            let midnight = local_midnight(day, zone);
            let workday = day % 7 < 5;
            let holiday = trip.is_some_and(|t| t.holiday);
            let activity = member.activity * if holiday { 0.3 } else { 1.0 };
            for kind in [Kind::Laptop, Kind::Phone] {
                let device = match kind {
                    Kind::Laptop => match member.new_laptop {
                        Some((from, label)) if midnight >= from => label,
                        _ => member.laptop,
                    },
                    Kind::Phone => match member.phone {
                        Some(label) => label,
                        None => continue,
                    },
                };
                let rate = match (kind, workday) {
                    (Kind::Laptop, true) => 0.5,
                    (Kind::Laptop, false) => 0.06,
                    (Kind::Phone, true) => 0.22,
                    (Kind::Phone, false) => 0.12,
                };
                for _ in 0..poisson(rng, rate * activity) {
                    let hour = match kind {
                        Kind::Laptop if workday && rng.random_bool(0.85) => {
                            8.0 + 5.0 * (rng.random::<f64>() + rng.random::<f64>())
                        }
                        Kind::Laptop if workday => rng.random_range(18.0..23.0),
                        Kind::Laptop => rng.random_range(9.0..22.0),
                        Kind::Phone => rng.random_range(7.0..23.0),
                    };
                    let at = midnight + hours(hour);
                    if at < member.join || at >= self.end {
                        continue;
                    }
                    let place = self.where_at(m, &trips, at);
                    if matches!(place, Where::InTransit) {
                        continue;
                    }
                    let addr = self.address(rng, m, kind, place, &trips, &home);
                    history.push((at, addr.city));
                    sign_in_drafts(rng, &mut drafts, m, at, addr, device);
                }
            }
        }
        self.drafts.extend(drafts);
        history.sort_by_key(|h| h.0);
        self.history[m] = history;
    }

    /// The account takeovers; returns how many.
    fn takeovers(&mut self, rng: &mut StdRng) -> u32 {
        let world = &self.world;
        let wanted = (self.members.len() as f64 / 7.0).round().max(1.0) as usize;
        let mut victims: Vec<usize> = (0..self.members.len())
            .filter(|&m| self.members[m].join + Duration::days(21) <= self.end)
            .collect();
        victims.shuffle(rng);
        let mut count = 0u32;
        let mut drafts = Vec::new();
        for m in victims {
            if count as usize == wanted {
                break;
            }
            let member = &self.members[m];
            let history = &self.history[m];
            // After the learning period: five sign-ins spanning at least five days.
            let Some(learned) = (5..=history.len())
                .find(|&n| history[n - 1].0 - history[0].0 >= Duration::days(5))
                .map(|n| history[n - 1].0)
            else {
                continue;
            };
            let from = learned.max(member.join + Duration::days(14));
            let until = self.end - Duration::days(1);
            if from >= until {
                continue;
            }
            let t0 = from + Duration::seconds(rng.random_range(0..(until - from).num_seconds()));
            let seen: HashSet<&str> = history
                .iter()
                .filter(|(at, _)| *at < t0)
                .map(|(_, city)| CITIES[*city].cc)
                .chain([COUNTRIES[member.country].cc])
                .collect();
            let x = rng.random::<f64>();
            let own = [
                Some(member.laptop),
                member.new_laptop.map(|n| n.1),
                member.phone,
            ];
            let (label, via, device) = if x < 0.4 {
                let line = if rng.random_bool(0.5) {
                    let origins: Vec<usize> = (0..COUNTRIES.len())
                        .filter(|&k| COUNTRIES[k].attack_origin && !seen.contains(COUNTRIES[k].cc))
                        .collect();
                    let Some(&k) = origins.get(rng.random_range(0..origins.len().max(1))) else {
                        continue;
                    };
                    let city = world.city_by_population(rng, k);
                    let isp = world.pick_isp(rng, IspKind::Broadband, k, &[]).unwrap_or(0);
                    world.new_line(rng, isp, city, false)
                } else {
                    let hubs: Vec<usize> = HOSTING_HUBS
                        .iter()
                        .map(|h| city_named(h))
                        .filter(|&c| !seen.contains(CITIES[c].cc))
                        .collect();
                    let Some(&hub) = hubs.get(rng.random_range(0..hubs.len().max(1))) else {
                        continue;
                    };
                    let k = world.country_of(hub);
                    let isp = world.pick_isp(rng, IspKind::Hosting, k, &[]).unwrap_or(0);
                    world.new_line(rng, isp, hub, false)
                };
                (
                    Label::AtoNewCountry,
                    Via::Line(line),
                    attacker_device(rng, &[]),
                )
            } else if x < 0.7 {
                let mut city = member.home;
                while city == member.home {
                    city = world.city_by_population(rng, member.country);
                }
                let via = if rng.random_bool(0.8) {
                    let isp = world
                        .pick_isp(rng, IspKind::Broadband, member.country, &[member.broadband])
                        .unwrap_or(0);
                    Via::Line(located_line(world.new_line(rng, isp, city, false), city))
                } else {
                    Via::Mobile(
                        world
                            .pick_isp(rng, IspKind::Mobile, member.country, &[member.carrier])
                            .unwrap_or(0),
                    )
                };
                (Label::AtoOtherCity, via, attacker_device(rng, &[]))
            } else {
                let isp = world
                    .pick_isp(rng, IspKind::Broadband, member.country, &[member.broadband])
                    .unwrap_or(0);
                let line = located_line(world.new_line(rng, isp, member.home, false), member.home);
                (
                    Label::AtoOwnCity,
                    Via::Line(line),
                    attacker_device(rng, &own),
                )
            };
            let tag = Tag {
                label,
                incident: Some(count),
                source: Source::Attacker,
            };
            let mut times = vec![t0];
            for _ in 0..poisson(rng, 0.6) {
                let later = t0 + Duration::seconds(rng.random_range(3600..72 * 3600));
                if later < self.end {
                    times.push(later);
                }
            }
            for at in times {
                let addr = match &via {
                    Via::Line(line) => world.through(rng, line),
                    Via::Mobile(carrier) => world.mobile(rng, *carrier),
                };
                let addr = Addr {
                    source: Source::Attacker,
                    ..addr
                };
                drafts.push(Draft {
                    at,
                    event: "session.signed_in",
                    member: m,
                    session: Some(uuid(rng)),
                    addr,
                    device,
                    reason: None,
                    located: true,
                    tag,
                });
            }
            count += 1;
        }
        self.drafts.extend(drafts);
        count
    }

    /// The password sprays; returns how many.
    fn sprays(&mut self, rng: &mut StdRng) -> u32 {
        let world = &self.world;
        let days = i64::from(self.cfg.days);
        let bursts = (days / 40).max(1) as u32;
        let mut drafts = Vec::new();
        for b in 0..=bursts {
            let distributed = b == bursts;
            let mut at = start() + Duration::seconds(rng.random_range(0..(days - 1) * 86_400));
            let mut targets: Vec<usize> = (0..self.members.len())
                .filter(|&m| self.members[m].join <= at)
                .collect();
            targets.shuffle(rng);
            targets.truncate((targets.len() as f64 * rng.random_range(0.3..0.8)) as usize);
            let hub = city_named(HOSTING_HUBS[rng.random_range(0..HOSTING_HUBS.len())]);
            let isp = world
                .pick_isp(rng, IspKind::Hosting, world.country_of(hub), &[])
                .unwrap_or(0);
            let vps = world.new_line(rng, isp, hub, true);
            let device = if distributed {
                pick_label(rng, LAPTOPS)
            } else {
                "Unknown browser on Unknown OS"
            };
            let spread = if distributed {
                6.0 * 3600.0 / targets.len().max(1) as f64
            } else {
                7.5
            };
            for m in targets {
                at += Duration::seconds((spread * rng.random_range(0.4..1.6)) as i64);
                let mut addr = if distributed {
                    let origins: Vec<usize> = (0..COUNTRIES.len()).collect();
                    let k = origins[rng.random_range(0..origins.len())];
                    let isp = world.pick_isp(rng, IspKind::Broadband, k, &[]).unwrap_or(0);
                    let city = world.city_by_population(rng, k);
                    let line = world.new_line(rng, isp, city, false);
                    world.through(rng, &line)
                } else {
                    world.through(rng, &vps)
                };
                addr.source = Source::Attacker;
                drafts.push(Draft {
                    at,
                    event: "auth.sign_in_failed",
                    member: m,
                    session: None,
                    addr,
                    device,
                    reason: Some("wrong_password"),
                    located: false,
                    tag: Tag {
                        label: Label::Spray,
                        incident: Some(b),
                        source: Source::Attacker,
                    },
                });
            }
        }
        self.drafts.extend(drafts);
        bursts + 1
    }

    /// Puts the drafts in time order and makes them events.
    fn finish(self, rng: &mut StdRng, takeovers: u32, sprays: u32) -> Generated {
        let Self {
            mut drafts,
            members,
            vpn,
            end,
            ..
        } = self;
        drafts.retain(|d| d.at < end);
        drafts.sort_by_key(|d| d.at);
        let mut events = Vec::with_capacity(drafts.len());
        let mut tags = Vec::with_capacity(drafts.len());
        for (i, d) in drafts.into_iter().enumerate() {
            let member = &members[d.member];
            let city = &CITIES[d.addr.city];
            let name = COUNTRIES
                .iter()
                .find(|k| k.cc == city.cc)
                .map(|k| k.name.to_owned());
            events.push(AuditEvent {
                seq: i as i64 + 1,
                id: uuid(rng),
                event: d.event.to_owned(),
                at: d.at,
                member_id: Some(member.id.clone()),
                member_email: Some(member.email.clone()),
                session_id: d.session,
                actor_id: None,
                actor_email: None,
                ip: Some(d.addr.ip),
                user_agent: Some(user_agent(d.device).to_owned()),
                device: Some(d.device.to_owned()),
                location: d.located.then(|| Location {
                    city: Some(city.name.to_owned()),
                    region: None,
                    country: name,
                    country_code: Some(city.cc.to_owned()),
                    latitude: Some(city.lat),
                    longitude: Some(city.lon),
                }),
                auth_method: (d.event == "session.signed_in").then_some(AuthMethod::Password),
                reason: d.reason.map(str::to_owned),
                details: None,
            });
            tags.push(d.tag);
        }
        let [a, b, c] = vpn.v4;
        Generated {
            events,
            tags,
            vpn_network: format!("{a}.{b}.{c}.0/24"),
            takeovers,
            sprays,
        }
    }
}

/// A line that geolocates to `city` (an attacker's residential proxy is chosen for where it
/// appears to be).
fn located_line(mut line: Line, city: usize) -> Line {
    line.v4_city = city;
    if let Some((_, c)) = &mut line.v6 {
        *c = city;
    }
    line
}

/// A member's sign-in at `at`: perhaps mistyped passwords just before, perhaps a sign-out
/// later.
fn sign_in_drafts(
    rng: &mut StdRng,
    drafts: &mut Vec<Draft>,
    m: usize,
    at: DateTime<Utc>,
    addr: Addr,
    device: &'static str,
) {
    let source = addr.source;
    let legit = |label| Tag {
        label,
        incident: None,
        source,
    };
    if rng.random_bool(0.03) {
        let n = match rng.random::<f64>() {
            x if x < 0.75 => 1,
            x if x < 0.95 => 2,
            _ => 3,
        };
        let mut t = at;
        for _ in 0..n {
            t -= Duration::seconds(rng.random_range(20..90));
            drafts.push(Draft {
                at: t,
                event: "auth.sign_in_failed",
                member: m,
                session: None,
                addr: addr.clone(),
                device,
                reason: Some("wrong_password"),
                located: false,
                tag: legit(Label::LegitFailure),
            });
        }
    }
    let session = uuid(rng);
    if rng.random_bool(0.35) {
        drafts.push(Draft {
            at: at + Duration::seconds(rng.random_range(600..6 * 3600)),
            event: "session.signed_out",
            member: m,
            session: Some(session.clone()),
            addr: addr.clone(),
            device,
            reason: Some("self"),
            located: false,
            tag: legit(Label::Other),
        });
    }
    drafts.push(Draft {
        at,
        event: "session.signed_in",
        member: m,
        session: Some(session),
        addr,
        device,
        reason: None,
        located: true,
        tag: legit(Label::Legit),
    });
}

// ---------------------------------------------------------------------------------------
// `cargo xtask gen-log`

const GEN_USAGE: &str =
    "usage: cargo xtask gen-log [--members N] [--days D] [--seed S] --out FILE [--labels FILE]";

/// `cargo xtask gen-log --members N --days D --seed S --out FILE [--labels FILE]`: writes
/// the log as JSON lines (one audit event a line) and, if asked, the labels beside it
/// (`{"seq":…,"label":"legit","incident":null}` a line).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut cfg = LogConfig::default();
    let mut out = None;
    let mut labels = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{GEN_USAGE}"))?;
        let number = || {
            value
                .parse::<u64>()
                .with_context(|| format!("{flag} takes a whole number, not {value:?}"))
        };
        match flag.as_str() {
            "--members" => cfg.members = usize::try_from(number()?)?,
            "--days" => cfg.days = u32::try_from(number()?)?,
            "--seed" => cfg.seed = number()?,
            "--out" => out = Some(PathBuf::from(value)),
            "--labels" => labels = Some(PathBuf::from(value)),
            other => bail!("unknown option {other:?}\n{GEN_USAGE}"),
        }
    }
    let Some(out) = out else {
        bail!("--out FILE is required\n{GEN_USAGE}");
    };
    if cfg.members == 0 || cfg.days < 7 {
        bail!("a log needs at least one member and seven days");
    }
    let log = generate(&cfg);
    let file =
        std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    for e in &log.events {
        serde_json::to_writer(&mut w, e)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    if let Some(path) = &labels {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        for (e, tag) in log.events.iter().zip(&log.tags) {
            let mut line = String::new();
            let incident = tag.incident.map_or("null".to_owned(), |i| i.to_string());
            let _ = write!(
                line,
                "{{\"seq\":{},\"label\":\"{}\",\"incident\":{incident},\"source\":\"{}\"}}",
                e.seq,
                tag.label.as_str(),
                tag.source.as_str()
            );
            writeln!(w, "{line}")?;
        }
        w.flush()?;
    }
    let sign_ins = log
        .events
        .iter()
        .filter(|e| e.event == "session.signed_in")
        .count();
    println!(
        "wrote {} events ({sign_ins} sign-ins, {} account takeovers, {} password sprays; VPN \
         egress {}) to {}{}",
        log.events.len(),
        log.takeovers,
        log.sprays,
        log.vpn_network,
        out.display(),
        labels
            .map(|l| format!(", labels to {}", l.display()))
            .unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn small() -> Generated {
        generate(&LogConfig {
            members: 60,
            days: 60,
            seed: 11,
        })
    }

    #[test]
    fn events_are_gap_free_unique_in_time_order_and_labelled_one_each() {
        let log = small();
        assert!(log.events.len() > 1_000, "{}", log.events.len());
        assert_eq!(log.tags.len(), log.events.len());
        for (i, e) in log.events.iter().enumerate() {
            assert_eq!(e.seq, i as i64 + 1);
        }
        assert!(log.events.windows(2).all(|w| w[0].at <= w[1].at));
        let ids: HashSet<&str> = log.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), log.events.len());
        assert!(
            log.events
                .iter()
                .all(|e| e.id.len() == 36 && &e.id[14..15] == "4")
        );
        let end = start() + Duration::days(60);
        assert!(log.events.iter().all(|e| start() <= e.at && e.at < end));
    }

    #[test]
    fn sign_ins_carry_what_the_server_records() {
        let log = small();
        for e in log.events.iter().filter(|e| e.event == "session.signed_in") {
            let location = e.location.as_ref().expect("a location");
            assert!(
                location.city.is_some() && location.country_code.is_some(),
                "{e:?}"
            );
            assert!(location.latitude.is_some() && location.longitude.is_some());
            let ip: std::net::IpAddr = e.ip.as_deref().unwrap_or_default().parse().unwrap();
            assert!(!ip.is_loopback() && !ip.is_unspecified());
            assert!(e.device.as_deref().unwrap_or_default().contains(" on "));
            assert!(e.member_id.is_some() && e.session_id.is_some());
            assert_eq!(e.auth_method, Some(AuthMethod::Password));
        }
        // Failed sign-ins carry no location and no session, as the server's.
        for e in log
            .events
            .iter()
            .filter(|e| e.event == "auth.sign_in_failed")
        {
            assert!(e.location.is_none() && e.session_id.is_none());
            assert_eq!(e.reason.as_deref(), Some("wrong_password"));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_log_and_another_seed_another() {
        let a = small();
        let b = small();
        assert_eq!(a.events, b.events);
        assert_eq!(a.tags, b.tags);
        let c = generate(&LogConfig {
            members: 60,
            days: 60,
            seed: 12,
        });
        assert_ne!(a.events, c.events);
    }

    #[test]
    fn takeovers_and_sprays_are_as_many_as_said_and_each_labelled() {
        let log = generate(&LogConfig {
            members: 140,
            days: 90,
            seed: 5,
        });
        assert_eq!(log.takeovers, 20);
        let mut kinds: HashMap<u32, Label> = HashMap::new();
        for t in log.tags.iter().filter(|t| t.label.is_ato()) {
            let incident = t.incident.expect("an incident");
            assert_eq!(*kinds.entry(incident).or_insert(t.label), t.label);
            assert_eq!(t.source, Source::Attacker);
        }
        assert_eq!(kinds.len(), 20);
        for label in [Label::AtoNewCountry, Label::AtoOtherCity, Label::AtoOwnCity] {
            assert!(kinds.values().any(|l| *l == label), "{label:?}");
        }
        let sprays: HashSet<u32> = log
            .tags
            .iter()
            .filter(|t| t.label == Label::Spray)
            .filter_map(|t| t.incident)
            .collect();
        assert_eq!(sprays.len() as u32, log.sprays);
        let legit = log.tags.iter().filter(|t| t.label == Label::Legit).count();
        let sign_ins = log
            .events
            .iter()
            .filter(|e| e.event == "session.signed_in")
            .count();
        let attacks = log.tags.iter().filter(|t| t.label.is_ato()).count();
        assert_eq!(legit + attacks, sign_ins);
    }

    /// Each attacker signs in after the victim's learning period, from where its kind says,
    /// and (own city) on a device the victim never used, from a city the victim signed in
    /// from before (in this log; the home line may geolocate elsewhere in others).
    #[test]
    fn takeovers_come_after_learning_from_where_their_kind_says() {
        let log = generate(&LogConfig {
            members: 140,
            days: 90,
            seed: 5,
        });
        let mut first_attack: HashMap<u32, usize> = HashMap::new();
        for (i, t) in log.tags.iter().enumerate() {
            if let (true, Some(n)) = (t.label.is_ato(), t.incident) {
                first_attack.entry(n).or_insert(i);
            }
        }
        for (_, i) in first_attack {
            let attack = &log.events[i];
            let label = log.tags[i].label;
            let victim = attack.member_id.as_deref();
            let before: Vec<&AuditEvent> = log.events[..i]
                .iter()
                .zip(&log.tags)
                .filter(|(e, t)| {
                    e.event == "session.signed_in"
                        && e.member_id.as_deref() == victim
                        && t.label == Label::Legit
                })
                .map(|(e, _)| e)
                .collect();
            assert!(before.len() >= 5);
            assert!(before[before.len() - 1].at - before[0].at >= Duration::days(5));
            let place = |e: &AuditEvent| {
                let l = e.location.as_ref().expect("located");
                (l.country_code.clone(), l.city.clone())
            };
            let (country, city) = place(attack);
            let countries: HashSet<Option<String>> = before.iter().map(|e| place(e).0).collect();
            match label {
                Label::AtoNewCountry => assert!(!countries.contains(&country), "{attack:?}"),
                Label::AtoOtherCity | Label::AtoOwnCity => {
                    assert!(countries.contains(&country), "{attack:?}");
                }
                _ => unreachable!(),
            }
            if label == Label::AtoOwnCity {
                let devices: HashSet<Option<&str>> =
                    before.iter().map(|e| e.device.as_deref()).collect();
                assert!(!devices.contains(&attack.device.as_deref()), "{attack:?}");
                let home = before.iter().filter(|e| place(e).1 == city).count();
                assert!(home > 0, "{attack:?}");
            }
        }
    }

    #[test]
    fn the_log_is_realistic_in_the_large() {
        let log = generate(&LogConfig::default());
        let sign_ins: Vec<(&AuditEvent, &Tag)> = log
            .events
            .iter()
            .zip(&log.tags)
            .filter(|(e, t)| e.event == "session.signed_in" && t.label == Label::Legit)
            .collect();
        // A few sign-ins a week per member.
        let per_week = sign_ins.len() as f64 / 300.0 / (120.0 / 7.0);
        assert!((2.0..8.0).contains(&per_week), "{per_week}");
        let share = |source: Source| {
            sign_ins.iter().filter(|(_, t)| t.source == source).count() as f64
                / sign_ins.len() as f64
        };
        assert!(share(Source::Home) > 0.4, "{}", share(Source::Home));
        assert!((0.05..0.3).contains(&share(Source::Mobile)));
        assert!((0.05..0.2).contains(&share(Source::Vpn)));
        assert!((0.005..0.05).contains(&share(Source::Hotel)));
        // Travellers reach many countries.
        let countries: HashSet<&str> = sign_ins
            .iter()
            .filter_map(|(e, _)| e.location.as_ref()?.country_code.as_deref())
            .collect();
        assert!(countries.len() >= 15, "{countries:?}");
        assert_eq!(log.vpn_network.split('/').nth(1), Some("24"));
    }

    #[test]
    fn gen_log_writes_json_lines_and_labels() {
        let dir = std::env::temp_dir().join(format!("setget-gen-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (out, labels) = (dir.join("log.jsonl"), dir.join("labels.jsonl"));
        let args: Vec<String> = ["--members", "20", "--days", "14", "--seed", "3", "--out"]
            .iter()
            .map(|s| s.to_string())
            .chain([out.display().to_string(), "--labels".into()])
            .chain([labels.display().to_string()])
            .collect();
        run(&args).unwrap();
        let events: Vec<AuditEvent> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let expected = generate(&LogConfig {
            members: 20,
            days: 14,
            seed: 3,
        });
        assert_eq!(events, expected.events);
        let labels: Vec<serde_json::Value> = std::fs::read_to_string(&labels)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(labels.len(), events.len());
        assert_eq!(labels[0]["seq"], 1);
        assert!(
            labels
                .iter()
                .all(|l| l["label"].is_string() && l["source"].is_string())
        );
        assert!(run(&["--members".into(), "x".into()]).is_err());
        assert!(run(&[]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
