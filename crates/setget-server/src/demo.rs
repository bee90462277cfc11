//! The demo workspace `acme` and its traffic: an owner, an admin and about fifty members who
//! live in cities around the world, three months of sign-ins and sign-outs behind them, and a
//! simulator that keeps signing them in and out from home — and now and then from a country
//! they have never been to.
//!
//! Places come from the bundled geolocation table, so every address the demo uses locates.
//! Randomness is seeded: the same start gives the same history.

use std::net::IpAddr;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use setget_protocol::{EndReason, Role, SessionStatus};

use crate::store::{self, Ending, MemberRow, NewMember, NewSession, Scope};
use crate::{App, geo, password, token};

/// The demo workspace's slug.
pub const DEMO_WORKSPACE: &str = "acme";
/// The demo owner's email.
pub const DEMO_OWNER_EMAIL: &str = "owner@acme.test";
/// The demo owner's password (documented in the README; demo servers only).
pub const DEMO_OWNER_PASSWORD: &str = "setget-demo";

const AGENTS: &[&str] = crate::ua::COMMON_AGENTS;

const FIRST: &[&str] = &[
    "Maya", "Lucas", "Amara", "Kenji", "Sofia", "Noah", "Priya", "Mateo", "Ingrid", "Omar",
    "Chloe", "Diego", "Hana", "Felix", "Zara", "Liam", "Yuki", "Elena", "Kwame", "Ava", "Arjun",
    "Lena", "Tomas", "Mei", "Jonas", "Isla", "Rafael", "Nora", "Sven", "Leila",
];
const LAST: &[&str] = &[
    "Patel",
    "Moreau",
    "Okafor",
    "Tanaka",
    "Rossi",
    "Schmidt",
    "Silva",
    "Kowalski",
    "Nguyen",
    "Haddad",
    "Johansson",
    "Garcia",
    "Kim",
    "Murphy",
    "Costa",
    "Fischer",
    "Mensah",
    "Ivanova",
];

/// How many members besides the owner and the admin.
const MEMBERS: usize = 48;
/// How far back the history goes.
const HISTORY_DAYS: i64 = 90;

/// A member of the demo and where they live.
#[derive(Debug, Clone)]
struct Resident {
    member: MemberRow,
    home: ipnet::IpNet,
    agents: [&'static str; 2],
}

fn address_in(net: &ipnet::IpNet, rng: &mut StdRng) -> IpAddr {
    match net {
        ipnet::IpNet::V4(v4) => {
            let base = u32::from(v4.network());
            let size = 1u32 << (32 - u32::from(v4.prefix_len())).min(31);
            IpAddr::from(std::net::Ipv4Addr::from(
                base + rng.random_range(1..size.max(2)),
            ))
        }
        ipnet::IpNet::V6(v6) => IpAddr::V6(v6.network()),
    }
}

/// Creates the demo workspace with its members and three months of history, as of the app's
/// clock. Fails if it exists.
pub fn seed(app: &App) -> anyhow::Result<()> {
    let now = app.clock().now();
    let mut rng = StdRng::seed_from_u64(0xac3e);
    let owner_hash = password::hash(DEMO_OWNER_PASSWORD)?;
    // Nobody but the owner signs in over HTTP in the demo; the others share one random hash.
    let other_hash = password::hash(&token::generate())?;
    let mut people = vec![
        (
            DEMO_OWNER_EMAIL.to_owned(),
            "Olivia Owner".to_owned(),
            Role::Owner,
        ),
        (
            "admin@acme.test".to_owned(),
            "Adam Admin".to_owned(),
            Role::Admin,
        ),
    ];
    for i in 0..MEMBERS {
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i * 7 + i / FIRST.len()) % LAST.len()];
        people.push((
            format!("{}.{}@acme.test", first.to_lowercase(), last.to_lowercase()),
            format!("{first} {last}"),
            Role::Member,
        ));
    }
    let members: Vec<NewMember> = people
        .iter()
        .map(|(email, name, role)| NewMember {
            email: email.clone(),
            display_name: name.clone(),
            role: *role,
            password_hash: if *role == Role::Owner {
                owner_hash.clone()
            } else {
                other_hash.clone()
            },
        })
        .collect();
    let history_start = now - Duration::days(HISTORY_DAYS);
    let mut conn = app.store().conn();
    let (_, ids) = store::create_workspace(
        &mut conn,
        DEMO_WORKSPACE,
        "Acme Inc.",
        &members,
        history_start,
    )?;
    let cities = geo::bundled().networks();
    let mut residents = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let member = store::member_by_id(&conn, id)?.context("a demo member vanished")?;
        // The owner lives in London (81.2.69.0/24); the others are spread over the cities.
        let home = if i == 0 {
            cities
                .iter()
                .find(|(_, l)| l.city.as_deref() == Some("London"))
                .map(|(n, _)| *n)
        } else {
            cities.get(i % cities.len()).map(|(n, _)| *n)
        }
        .context("the bundled geolocation table is empty")?;
        residents.push(Resident {
            member,
            home,
            agents: [
                AGENTS[i % AGENTS.len()],
                AGENTS[(i / AGENTS.len() + 2) % AGENTS.len()],
            ],
        });
    }
    // Build the history as dated actions, then replay them in order so that change numbers,
    // audit sequence and expiries line up with time.
    let mut actions: Vec<(DateTime<Utc>, usize, Option<Duration>)> = Vec::new();
    for (r, _) in residents.iter().enumerate() {
        let mut t = history_start + Duration::minutes(rng.random_range(0..24 * 60));
        while t < now {
            // Signs out after a while, or leaves the session to expire.
            let stay =
                (rng.random_range(0..3) > 0).then(|| Duration::minutes(rng.random_range(20..600)));
            actions.push((t, r, stay));
            t += Duration::minutes(rng.random_range(12 * 60..5 * 24 * 60));
        }
    }
    actions.sort_by_key(|(t, r, _)| (*t, *r));
    let mut sign_outs: Vec<(DateTime<Utc>, String)> = Vec::new();
    for (at, r, stay) in actions {
        // Sign-outs due before this sign-in happen first.
        sign_outs.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
        while sign_outs.last().is_some_and(|(t, _)| *t <= at) {
            if let Some((t, id)) = sign_outs.pop() {
                sign_out(&mut conn, &id, t)?;
            }
        }
        let resident = &residents[r];
        let agent = resident.agents[rng.random_range(0..2)];
        let ip = address_in(&resident.home, &mut rng);
        let id = sign_in(app, &mut conn, resident, agent, ip, at)?;
        if let Some(stay) = stay
            && at + stay < now
        {
            sign_outs.push((at + stay, id));
        }
    }
    for (t, id) in sign_outs {
        sign_out(&mut conn, &id, t)?;
    }
    // The owner is signed in right now on a laptop and a phone, from home.
    let owner = &residents[0];
    for (agent, ago) in [
        (AGENTS[0], Duration::days(2)),
        (AGENTS[2], Duration::hours(6)),
    ] {
        let ip = address_in(&owner.home, &mut rng);
        sign_in(app, &mut conn, owner, agent, ip, now - ago)?;
    }
    store::expire_due(&mut conn, &owner.member.workspace_id, now)?;
    Ok(())
}

fn sign_in(
    app: &App,
    conn: &mut rusqlite::Connection,
    resident: &Resident,
    agent: &str,
    ip: IpAddr,
    at: DateTime<Utc>,
) -> anyhow::Result<String> {
    let location = app.geo().locate(ip);
    let digest = token::digest(&token::generate());
    Ok(store::create_session(
        conn,
        &resident.member,
        &NewSession {
            token_digest: &digest,
            user_agent: agent,
            ip: &ip.to_string(),
            location: location.as_ref(),
            now: at,
        },
    )?)
}

fn sign_out(
    conn: &mut rusqlite::Connection,
    session_id: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    if let Some((session, workspace_id)) = store::session_by_id(conn, session_id)?
        && session.status == SessionStatus::Active
    {
        store::end_session(
            conn,
            &session,
            &workspace_id,
            &Ending {
                status: SessionStatus::SignedOut,
                reason: EndReason::SignOut,
                at,
                event: "session.signed_out",
                event_reason: None,
                actor: None,
            },
        )?;
    }
    Ok(())
}

/// One step of live traffic: a member signs in from home (usually), from a city in another
/// country (about one step in fifteen), or signs out of one of their sessions.
pub async fn traffic_step(app: &App, rng: &mut StdRng) -> anyhow::Result<()> {
    let now = app.clock().now();
    let pick = rng.random_range(0..MEMBERS);
    let choice = rng.random_range(0..15);
    let mut step_rng = StdRng::seed_from_u64(rng.random());
    let geo_app = app.clone();
    app.blocking(move |store| {
        let mut conn = store.conn();
        let mut run = || -> anyhow::Result<()> {
            let ws: String = conn.query_row(
                "SELECT id FROM workspaces WHERE slug = ?1",
                [DEMO_WORKSPACE],
                |r| r.get(0),
            )?;
            let (members, _) = store::members_in(&conn, &ws, None, 0, 1000)?;
            let members: Vec<MemberRow> = members
                .into_iter()
                .filter(|m| m.role == Role::Member)
                .collect();
            let Some(member) = members.get(pick % members.len().max(1)).cloned() else {
                return Ok(());
            };
            // Home is where the member last signed in from, in the bundled table.
            let (last_ip, last_agent): (String, String) = conn.query_row(
                "SELECT ip, user_agent FROM sessions WHERE member_id = ?1
                 ORDER BY created_at DESC LIMIT 1",
                [&member.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let cities = geo::bundled().networks();
            let last_ip: IpAddr = last_ip.parse()?;
            let (home, home_place) = cities
                .iter()
                .find(|(n, _)| n.contains(&last_ip))
                .or(cities.first())
                .context("the bundled geolocation table is empty")?;
            let agent = AGENTS
                .iter()
                .find(|a| **a == last_agent)
                .copied()
                .unwrap_or(AGENTS[0]);
            let resident = Resident {
                member: member.clone(),
                home: *home,
                agents: [agent, agent],
            };
            match choice {
                0 => {
                    let abroad: Vec<_> = cities
                        .iter()
                        .filter(|(_, l)| l.country_code != home_place.country_code)
                        .collect();
                    let (away, _) = abroad[step_rng.random_range(0..abroad.len())];
                    let ip = address_in(away, &mut step_rng);
                    sign_in(&geo_app, &mut conn, &resident, AGENTS[1], ip, now)?;
                }
                1..=4 => {
                    let active = store::all_active_sessions(&conn, Scope::Member(&member.id))?;
                    if let Some(s) = active.first() {
                        sign_out(&mut conn, &s.id, now)?;
                    }
                }
                _ => {
                    let ip = address_in(&resident.home, &mut step_rng);
                    sign_in(&geo_app, &mut conn, &resident, agent, ip, now)?;
                }
            }
            Ok(())
        };
        run().map_err(crate::ApiError::Internal)
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Runs [`traffic_step`] every `interval` until the process ends.
pub async fn simulate_traffic(app: App, interval: std::time::Duration) {
    let mut rng = StdRng::seed_from_u64(0x7a4f);
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if let Err(e) = traffic_step(&app, &mut rng).await {
            tracing::warn!(error = %e, "a demo traffic step failed");
        }
    }
}
