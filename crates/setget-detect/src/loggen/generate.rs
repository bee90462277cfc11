//! What to generate ([`LogConfig`]), the result ([`Generated`]), and [`generate`], which puts
//! the parts of the model together: the world, the company, each member's own activity, the
//! attacks, then every event in time order with its `seq` and id.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng as _};
use setget_protocol::{AuditEvent, AuthMethod, EventKind, Location};

use super::activity;
use super::attacks;
use super::calendar::start;
use super::event::{Draft, Tag};
use super::members::{Company, Member};
use super::network::{Line, World};
use super::random::uuid;
use super::tables::{CITIES, COUNTRIES, user_agent};

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

/// Generates a log (see the module's documentation for the model).
pub fn generate(cfg: &LogConfig) -> Generated {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let world = World::new(&mut rng);
    let company = Company::new(&mut rng, &world);
    let end = start() + Duration::days(i64::from(cfg.days));
    let mut members = Vec::new();
    let mut drafts = Vec::new();
    let mut histories = Vec::new();
    for i in 0..cfg.members {
        let mut member_rng = StdRng::seed_from_u64(rng.random());
        let member = Member::new(&mut member_rng, &world, &company, cfg.days, i);
        let (own, history) =
            activity::simulate(&mut member_rng, &world, &company, &member, i, cfg.days, end);
        members.push(member);
        drafts.extend(own);
        histories.push(history);
    }
    let mut attack_rng = StdRng::seed_from_u64(rng.random());
    let (attacks, takeovers) =
        attacks::takeovers(&mut attack_rng, &world, &members, &histories, end);
    drafts.extend(attacks);
    let mut spray_rng = StdRng::seed_from_u64(rng.random());
    let (sprayed, sprays) = attacks::sprays(&mut spray_rng, &world, &members, cfg.days);
    drafts.extend(sprayed);
    let mut finish_rng = StdRng::seed_from_u64(rng.random());
    let counts = (takeovers, sprays);
    finish(&mut finish_rng, drafts, &members, &company.vpn, end, counts)
}

/// Puts the drafts before `end` in time order and makes them events; `counts` are the
/// takeovers and sprays among them.
fn finish(
    rng: &mut StdRng,
    mut drafts: Vec<Draft>,
    members: &[Member],
    vpn: &Line,
    end: DateTime<Utc>,
    (takeovers, sprays): (u32, u32),
) -> Generated {
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
        // The server names the system of sign-ins and failed sign-ins.
        let named = matches!(d.event, EventKind::SignedIn | EventKind::SignInFailed);
        let (asn, as_org) = if named {
            (Some(d.addr.system.0), Some(d.addr.system.1.clone()))
        } else {
            (None, None)
        };
        events.push(AuditEvent {
            asn,
            as_org,
            seq: i as i64 + 1,
            id: uuid(rng),
            event: d.event.clone(),
            at: d.at,
            member_id: Some(member.id.clone()),
            member_email: Some(member.email.clone()),
            session_id: d.session,
            actor_id: None,
            actor_email: None,
            ip: Some(d.addr.ip),
            user_agent: Some(user_agent(d.device).to_owned()),
            device: Some(d.device.to_owned()),
            device_id: d.device_id,
            location: d.located.then(|| Location {
                city: Some(city.name.to_owned()),
                region: None,
                country: name,
                country_code: Some(city.cc.to_owned()),
                latitude: Some(city.lat),
                longitude: Some(city.lon),
            }),
            auth_method: (d.event == EventKind::SignedIn).then_some(AuthMethod::Password),
            reason: d.reason.clone(),
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
