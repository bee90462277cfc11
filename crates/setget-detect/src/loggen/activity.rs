//! A member's own activity, day by day: sign-ins on their laptop and phone from where they
//! are (home, the office, a commute, a trip) through the network that place gives, mistyped
//! passwords before some, sign-outs after some.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use setget_protocol::{EventKind, EventReason};

use super::calendar::{hours, local_midnight};
use super::devices::{Browsers, Cookies};
use super::event::{Addr, Draft, Label, Source, Tag};
use super::members::{Company, Member, Trip, Where};
use super::network::{Line, World};
use super::random::{poisson, uuid};
use super::tables::{CITIES, COUNTRIES};

/// Which of a member's devices signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Laptop,
    Phone,
}

/// What a member's sign-ins are drawn against: the world, the company, the member and their
/// trips.
#[derive(Debug, Clone, Copy)]
struct Around<'a> {
    world: &'a World,
    company: &'a Company,
    member: &'a Member,
    trips: &'a [Trip],
}

impl Around<'_> {
    /// The address of a sign-in by `kind` from `place`.
    fn address(&self, rng: &mut StdRng, kind: Kind, place: Where, home: &Line) -> Addr {
        let Self {
            world,
            company,
            member,
            trips,
        } = *self;
        let via = |rng: &mut StdRng, line: &Line, source| Addr {
            source,
            ..world.through(rng, line)
        };
        match (kind, place) {
            (Kind::Laptop, Where::Home) => {
                if rng.random_bool(member.vpn) {
                    via(rng, &company.vpn, Source::Vpn)
                } else {
                    via(rng, home, Source::Home)
                }
            }
            (_, Where::Office(o)) if kind == Kind::Laptop || rng.random_bool(0.5) => {
                via(rng, &company.office_lines[o.line], Source::Office)
            }
            (Kind::Phone, Where::Home) if rng.random_bool(0.6) => via(rng, home, Source::Home),
            (_, Where::Away(t)) => {
                let trip = &trips[t];
                let x = rng.random::<f64>();
                let (hotel, venue) = match kind {
                    Kind::Laptop if rng.random_bool(member.vpn) => {
                        return via(rng, &company.vpn, Source::Vpn);
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
}

/// Member `m`'s own activity: sign-ins, mistyped passwords, sign-outs; returns their drafts
/// and their sign-ins (when, and where the address geolocated), in time order.
pub(super) fn simulate(
    rng: &mut StdRng,
    world: &World,
    company: &Company,
    member: &Member,
    m: usize,
    days: u32,
    end: DateTime<Utc>,
) -> (Vec<Draft>, Vec<(DateTime<Utc>, usize)>) {
    let trips = member.trips(rng, world, days);
    let around = Around {
        world,
        company,
        member,
        trips: &trips,
    };
    let mut home = world.new_line(rng, member.broadband, member.home, true);
    let days = i64::from(days);
    let mut drafts = Vec::new();
    let mut history = Vec::new();
    let mut browsers = Browsers::of(&member.id);
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
                if at < member.join || at >= end {
                    continue;
                }
                let place = member.where_at(&trips, at);
                if matches!(place, Where::InTransit) {
                    continue;
                }
                let addr = around.address(rng, kind, place, &home);
                history.push((at, addr.city));
                let cookies = browsers.sign_in(device);
                sign_in_drafts(rng, &mut drafts, m, at, addr, (device, cookies));
            }
        }
    }
    history.sort_by_key(|h| h.0);
    (drafts, history)
}

/// A member's sign-in at `at`: perhaps mistyped passwords just before, perhaps a sign-out
/// later.
fn sign_in_drafts(
    rng: &mut StdRng,
    drafts: &mut Vec<Draft>,
    m: usize,
    at: DateTime<Utc>,
    addr: Addr,
    (device, cookies): (&'static str, Cookies),
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
                event: EventKind::SignInFailed,
                member: m,
                session: None,
                addr: addr.clone(),
                device,
                device_id: cookies.presented.clone(),
                reason: Some(EventReason::WrongPassword),
                located: false,
                tag: legit(Label::LegitFailure),
            });
        }
    }
    let session = uuid(rng);
    if rng.random_bool(0.35) {
        drafts.push(Draft {
            at: at + Duration::seconds(rng.random_range(600..6 * 3600)),
            event: EventKind::SignedOut,
            member: m,
            session: Some(session.clone()),
            addr: addr.clone(),
            device,
            device_id: None,
            reason: Some(EventReason::ByMember),
            located: false,
            tag: legit(Label::Other),
        });
    }
    drafts.push(Draft {
        at,
        event: EventKind::SignedIn,
        member: m,
        session: Some(session),
        addr,
        device,
        device_id: Some(cookies.recorded),
        reason: None,
        located: true,
        tag: legit(Label::Legit),
    });
}
