//! The attacks in the log: account takeovers (from a new country, from another city of the
//! victim's country, from the victim's own city on a new device), each on a member past the
//! learning period, and password sprays (bursts from one VPS, and one distributed spray).

use setget_protocol::{EventKind, EventReason};
use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;

use super::calendar::start;
use super::devices;
use super::event::{Addr, Draft, Label, Source, Tag};
use super::members::Member;
use super::network::{IspKind, Line, World};
use super::random::{pick_label, poisson, uuid};
use super::tables::{CITIES, COUNTRIES, HOSTING_HUBS, LAPTOPS, PHONES, city_named};

/// How an attacker reaches the service: a fixed line, or a mobile carrier.
#[derive(Debug)]
enum Via {
    Line(Line),
    Mobile(usize),
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

/// A line that geolocates to `city` (an attacker's residential proxy is chosen for where it
/// appears to be).
fn located_line(mut line: Line, city: usize) -> Line {
    line.v4_city = city;
    if let Some((_, c)) = &mut line.v6 {
        *c = city;
    }
    line
}

/// The account takeovers of `members`, whose own sign-ins are `histories` (when, and where
/// the address geolocated); returns their drafts and how many there are.
pub(super) fn takeovers(
    rng: &mut StdRng,
    world: &World,
    members: &[Member],
    histories: &[Vec<(DateTime<Utc>, usize)>],
    end: DateTime<Utc>,
) -> (Vec<Draft>, u32) {
    let wanted = (members.len() as f64 / 7.0).round().max(1.0) as usize;
    let mut victims: Vec<usize> = (0..members.len())
        .filter(|&m| members[m].join + Duration::days(21) <= end)
        .collect();
    victims.shuffle(rng);
    let mut count = 0u32;
    let mut drafts = Vec::new();
    for m in victims {
        if count as usize == wanted {
            break;
        }
        let member = &members[m];
        let history = &histories[m];
        // After the learning period: five sign-ins spanning at least five days.
        let Some(learned) = (5..=history.len())
            .find(|&n| history[n - 1].0 - history[0].0 >= Duration::days(5))
            .map(|n| history[n - 1].0)
        else {
            continue;
        };
        let from = learned.max(member.join + Duration::days(14));
        let until = end - Duration::days(1);
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
            if later < end {
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
                event: EventKind::SignedIn,
                member: m,
                session: Some(uuid(rng)),
                addr,
                device,
                device_id: Some(devices::attacker(count)),
                reason: None,
                located: true,
                tag,
            });
        }
        count += 1;
    }
    (drafts, count)
}

/// The password sprays on `members` over `days`; returns their drafts and how many there are.
pub(super) fn sprays(
    rng: &mut StdRng,
    world: &World,
    members: &[Member],
    days: u32,
) -> (Vec<Draft>, u32) {
    let days = i64::from(days);
    let bursts = (days / 40).max(1) as u32;
    let mut drafts = Vec::new();
    for b in 0..=bursts {
        let distributed = b == bursts;
        let mut at = start() + Duration::seconds(rng.random_range(0..(days - 1) * 86_400));
        let mut targets: Vec<usize> = (0..members.len())
            .filter(|&m| members[m].join <= at)
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
                event: EventKind::SignInFailed,
                member: m,
                session: None,
                addr,
                device,
                device_id: None,
                reason: Some(EventReason::WrongPassword),
                located: false,
                tag: Tag {
                    label: Label::Spray,
                    incident: Some(b),
                    source: Source::Attacker,
                },
            });
        }
    }
    (drafts, bursts + 1)
}
