//! The company and its members: the offices and the VPN egress ([`Company`]), who lives
//! where, works at which office on which days, uses which devices and travels when
//! ([`Member`], [`Trip`]), and where a member is at an instant ([`Where`]).

use chrono::{DateTime, Datelike as _, Duration, Timelike as _, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;

use super::calendar::{hours, local_midnight, start, travel_time};
use super::network::{IspKind, Line, World};
use super::random::{normal, pick_label, poisson, uuid, weighted};
use super::tables::{CITIES, COUNTRIES, FIRST, HQ, LAPTOPS, LAST, PHONES, city_named, km};

/// An office: its city, and its line (an index into [`Company::office_lines`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Office {
    pub(super) city: usize,
    pub(super) line: usize,
}

/// A trip: where to, when the member sets off, arrives, leaves and is back, whether it is a
/// holiday, and the lines of its hotel and (on business) its venue.
#[derive(Debug)]
pub(super) struct Trip {
    pub(super) dest: usize,
    depart: DateTime<Utc>,
    pub(super) arrive: DateTime<Utc>,
    pub(super) leave: DateTime<Utc>,
    back: DateTime<Utc>,
    pub(super) holiday: bool,
    pub(super) hotel: Line,
    pub(super) venue: Option<Line>,
}

/// A member: who they are, where they live, their networks and devices, how they work and
/// how much they sign in and travel.
#[derive(Debug)]
pub(super) struct Member {
    pub(super) id: String,
    pub(super) email: String,
    pub(super) country: usize,
    pub(super) home: usize,
    pub(super) broadband: usize,
    pub(super) carrier: usize,
    /// The office and which weekdays (Monday = 0) the member goes there.
    pub(super) office: Option<(Office, [bool; 5])>,
    pub(super) laptop: &'static str,
    pub(super) new_laptop: Option<(DateTime<Utc>, &'static str)>,
    pub(super) phone: Option<&'static str>,
    /// The share of laptop sign-ins away from the office through the VPN.
    pub(super) vpn: f64,
    pub(super) activity: f64,
    pub(super) join: DateTime<Utc>,
    traveller: bool,
}

/// Where a member is at an instant.
#[derive(Debug, Clone, Copy)]
pub(super) enum Where {
    Home,
    Office(Office),
    Commuting,
    Away(usize),
    InTransit,
}

/// The company: its offices with their networks, and the corporate VPN's egress.
#[derive(Debug)]
pub(super) struct Company {
    pub(super) offices: Vec<Office>,
    pub(super) office_lines: Vec<Line>,
    pub(super) vpn: Line,
}

impl Company {
    /// Draws the offices' networks (a business ISP's line each, geolocated to the office's
    /// city or its regional hub) and the VPN's egress (a hosting provider's line in the HQ's
    /// city).
    pub(super) fn new(rng: &mut StdRng, world: &World) -> Self {
        let mut offices = Vec::new();
        let mut office_lines = Vec::new();
        for (k, country) in COUNTRIES.iter().enumerate() {
            for name in country.offices {
                let city = city_named(name);
                let isp = world.pick_isp(rng, IspKind::Business, k, &[]).unwrap_or(0);
                let mut line = world.new_line(rng, isp, city, false);
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
            .pick_isp(rng, IspKind::Hosting, world.country_of(hq), &[])
            .unwrap_or(0);
        let mut vpn = world.new_line(rng, vpn_isp, hq, false);
        vpn.v4_city = hq;
        Self {
            offices,
            office_lines,
            vpn,
        }
    }
}

impl Member {
    /// Member `i`: where they live, their ISP and carrier, their office days, devices, VPN
    /// use, activity, when they join, and whether they travel much.
    pub(super) fn new(
        rng: &mut StdRng,
        world: &World,
        company: &Company,
        days: u32,
        i: usize,
    ) -> Self {
        let country = weighted(rng, COUNTRIES, |k| k.members);
        let home = world.city_by_population(rng, country);
        let broadband = world
            .pick_isp(rng, IspKind::Broadband, country, &[])
            .unwrap_or(0);
        let carrier = world
            .pick_isp(rng, IspKind::Mobile, country, &[])
            .unwrap_or(0);
        let office = company
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
        let days = i64::from(days);
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
        Self {
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
    pub(super) fn trips(&self, rng: &mut StdRng, world: &World, days: u32) -> Vec<Trip> {
        let days = i64::from(days);
        let scale = days as f64 / 120.0 * if self.traveller { 3.0 } else { 1.0 };
        let first_day = (self.join - start()).num_days();
        if first_day >= days - 1 {
            return Vec::new();
        }
        // (day, nights, destination, holiday)
        let mut planned = Vec::new();
        for _ in 0..poisson(rng, 0.8 * scale) {
            let mut dest = None;
            for _ in 0..20 {
                let c = world.city_by_population(rng, self.country);
                if km(self.home, c) >= 80.0 {
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
                if k == self.country {
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
            let depart = local_midnight(day, self.home) + hours(rng.random_range(6.0..19.0));
            let arrive = depart + travel_time(rng, self.home, dest);
            let mut leave = local_midnight(day + nights, dest) + hours(rng.random_range(8.0..19.0));
            if leave < arrive + Duration::hours(4) {
                leave = arrive + Duration::hours(4);
            }
            let back = leave + travel_time(rng, dest, self.home);
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

    /// Where the member is at `at`, on `trips`.
    pub(super) fn where_at(&self, trips: &[Trip], at: DateTime<Utc>) -> Where {
        for (i, t) in trips.iter().enumerate() {
            if (t.depart <= at && at < t.arrive) || (t.leave <= at && at < t.back) {
                return Where::InTransit;
            }
            if t.arrive <= at && at < t.leave {
                return Where::Away(i);
            }
        }
        if let Some((office, days)) = self.office {
            let local = at + Duration::minutes(CITIES[self.home].utc_minutes);
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
}
