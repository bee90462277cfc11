//! The model's data: real cities (coordinates, metropolitan populations, UTC offsets), the
//! countries members live in, travel to and are attacked from, the data-centre hubs, device
//! labels and their shares, the user agents behind them, and members' names.

use crate::geo::distance_km;

/// A city: real coordinates, metropolitan population in thousands (rounded), standard-time
/// UTC offset in minutes.
#[derive(Debug, Clone, Copy)]
pub(super) struct City {
    pub name: &'static str,
    pub cc: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub pop: f64,
    pub utc_minutes: i64,
}

pub(super) const fn c(
    name: &'static str,
    cc: &'static str,
    lat: f64,
    lon: f64,
    pop: f64,
    utc: i64,
) -> City {
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
pub(super) const CITIES: &[City] = &[
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
pub(super) struct Country {
    pub(super) cc: &'static str,
    pub(super) name: &'static str,
    /// Share of the members living there.
    pub(super) members: f64,
    pub(super) offices: &'static [&'static str],
    /// Relative weight as an international destination.
    pub(super) travel: f64,
    /// Whether residential attackers sign in from there (kind (a)).
    pub(super) attack_origin: bool,
}

pub(super) const fn country(
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

pub(super) const COUNTRIES: &[Country] = &[
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
pub(super) const HQ: &str = "London";

/// Data-centre hubs where attackers rent VPSs.
pub(super) const HOSTING_HUBS: &[&str] = &[
    "Frankfurt am Main",
    "Amsterdam",
    "Ashburn",
    "London",
    "Paris",
    "Singapore",
];

/// Laptop labels and their share.
pub(super) const LAPTOPS: &[(&str, f64)] = &[
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
pub(super) const PHONES: &[(&str, f64)] = &[
    ("Safari on iOS", 0.45),
    ("Chrome on Android", 0.45),
    ("Chrome on iOS", 0.07),
    ("Firefox on Android", 0.03),
];

pub(super) const FIRST: &[&str] = &[
    "maya", "lucas", "amara", "kenji", "sofia", "noah", "priya", "mateo", "ingrid", "omar",
    "chloe", "diego", "hana", "felix", "zara", "liam", "yuki", "elena", "kwame", "ava", "arjun",
    "lena", "tomas", "mei", "jonas", "isla", "rafael", "nora", "sven", "leila", "emma", "oliver",
    "marta", "piotr", "giulia", "lars", "aoife", "pablo", "claire", "anna",
];
pub(super) const LAST: &[&str] = &[
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

/// A user agent the server would label as `device`.
pub(super) fn user_agent(device: &str) -> &'static str {
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
pub(super) fn city_named(name: &str) -> usize {
    CITIES.iter().position(|c| c.name == name).unwrap_or(0)
}

pub(super) fn km(a: usize, b: usize) -> f64 {
    distance_km(
        (CITIES[a].lat, CITIES[a].lon),
        (CITIES[b].lat, CITIES[b].lon),
    )
}
