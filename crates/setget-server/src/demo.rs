//! The demo workspace `acme` and its traffic: an owner, an admin and about fifty members who
//! live in cities around the world, three months of sign-ins and sign-outs behind them, and a
//! simulator that keeps signing them in and out from home — and now and then from a country
//! they have never been to.
//!
//! The history ends with what the app is for, in its last hour (see `incidents`): a
//! sign-in from a new country, an impossible journey and a password spray that got in, each
//! with its session still active, so that the app's first sync already has alerts to show.
//!
//! Places come from the bundled geolocation table, so every address the demo uses locates.
//! Randomness is seeded: the same start gives the same history.

use std::net::IpAddr;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use setget_protocol::{EndReason, EventKind, EventReason, Role, SessionStatus};

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

/// The browser of the password spray: "Chrome on Windows", which no demo member uses.
const SPRAY_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
/// How many members the spray tries, one wrong password each: more than the 20 failures
/// from one address within 10 minutes that the app's detector calls a password attack.
const SPRAYED: usize = 24;

/// A member of the demo and where they live.
#[derive(Debug, Clone)]
struct Resident {
    member: MemberRow,
    home: ipnet::IpNet,
    agents: [&'static str; 2],
}

impl Resident {
    /// The member's computer: the first of their browsers that is not on a phone (a phone's
    /// city is its carrier's, which says little about where it is).
    fn laptop(&self) -> &'static str {
        self.agents
            .into_iter()
            .find(|a| !matches!(crate::ua::parse(a).os.as_str(), "iOS" | "Android"))
            .unwrap_or(AGENTS[0])
    }
}

/// Whose browser signs in: the member's own (the same device id at every sign-in with that
/// user agent), or one the server never saw (a new device id each time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Browser {
    Own,
    Stranger,
}

/// One dated step of the seeded history, of one resident.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// Signs in from home with one of their browsers; signs out after `stay`, or leaves the
    /// session to expire.
    Visit { stay: Option<Duration> },
    /// Signs in from `ip` with `agent`, and stays signed in; in a browser of theirs (whose
    /// device cookie the server set before), or in one it never saw.
    SignIn {
        ip: IpAddr,
        agent: &'static str,
        browser: Browser,
    },
    /// A wrong password from `ip` with `agent`.
    WrongPassword { ip: IpAddr, agent: &'static str },
}

/// When, who (an index into the residents) and what.
type Step = (DateTime<Utc>, usize, Act);

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
/// clock, unless it exists; answers whether it did.
pub async fn seed(app: &App) -> anyhow::Result<bool> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let exists = app
            .store()
            .lock()
            .workspace_id_of(DEMO_WORKSPACE)?
            .is_some();
        if !exists {
            seed_now(&app)?;
        }
        Ok(!exists)
    })
    .await?
}

/// [`seed`]'s work, on a blocking thread.
fn seed_now(app: &App) -> anyhow::Result<()> {
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
    let mut conn = app.store().lock();
    let (_, ids) = conn.create_workspace(DEMO_WORKSPACE, "Acme Inc.", &members, history_start)?;
    let cities = geo::bundled().networks();
    let mut residents = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let member = conn.member_by_id(id)?.context("a demo member vanished")?;
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
    // audit sequence and expiries line up with time. The last hour's incidents draw from a
    // generator of their own, so that changing them leaves the rest of the history as it is.
    let (mut actions, involved) = incidents(&residents, now, &mut StdRng::seed_from_u64(0x1c1d))?;
    for (r, _) in residents.iter().enumerate() {
        // The members of the last hour's incidents are quiet the day before: nothing else of
        // theirs is as recent.
        let quiet_from = if involved.contains(&r) {
            now - Duration::days(1)
        } else {
            now
        };
        let mut t = history_start + Duration::minutes(rng.random_range(0..24 * 60));
        while t < now {
            // Signs out after a while, or leaves the session to expire.
            let stay =
                (rng.random_range(0..3) > 0).then(|| Duration::minutes(rng.random_range(20..600)));
            if t < quiet_from {
                actions.push((t, r, Act::Visit { stay }));
            }
            t += Duration::minutes(rng.random_range(12 * 60..5 * 24 * 60));
        }
    }
    // A stable sort: steps of one member at one instant keep their order.
    actions.sort_by_key(|(t, r, _)| (*t, *r));
    let mut sign_outs: Vec<(DateTime<Utc>, String)> = Vec::new();
    for (at, r, act) in actions {
        // Sign-outs due before this step happen first.
        sign_outs.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
        while sign_outs.last().is_some_and(|(t, _)| *t <= at) {
            if let Some((t, id)) = sign_outs.pop() {
                sign_out(&mut conn, &id, t)?;
            }
        }
        let resident = &residents[r];
        match act {
            Act::Visit { stay } => {
                let agent = resident.agents[rng.random_range(0..2)];
                let ip = address_in(&resident.home, &mut rng);
                let id = sign_in(app, &mut conn, resident, (agent, Browser::Own), ip, at)?;
                if let Some(stay) = stay
                    && at + stay < now
                {
                    sign_outs.push((at + stay, id));
                }
            }
            Act::SignIn { ip, agent, browser } => {
                sign_in(app, &mut conn, resident, (agent, browser), ip, at)?;
            }
            Act::WrongPassword { ip, agent } => {
                conn.audit_failed_sign_in(
                    &resident.member,
                    at,
                    &ip.to_string(),
                    agent,
                    EventReason::WrongPassword,
                )?;
            }
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
        sign_in(app, &mut conn, owner, (agent, Browser::Own), ip, now - ago)?;
    }
    conn.expire_due(&owner.member.workspace_id, now)?;
    Ok(())
}

/// The last hour of the history: what the demo opens on. Three members, each with a
/// session still active that the app's detector flags (its default rules, high severity):
///
/// - **A new country.** The member who lives in Berlin signs in from Tokyo, 40 minutes ago,
///   in a browser that claims to be their computer's but that the server never saw (no device
///   cookie): a country none of their last sign-ins came from. Their previous sign-in is over
///   a day old, so the journey itself is possible.
/// - **Impossible travel.** The member who lives in New York signs in at home 55 minutes ago,
///   then from San Francisco 35 minutes later in the same browser (its device cookie, as a
///   thief of the browser's cookies would have it): 4,100 km at about
///   7,000 km/h, from a carrier network (/16) they never used (the tuned rules ask for one),
///   in their own country, so it is not a new country as well.
/// - **A password spray that got in.** One address in Singapore tries one wrong password on
///   each of [`SPRAYED`] members within six minutes (from the 20th failure within 10 minutes
///   the detector reports a password attack from that address), then signs in as the member
///   who lives in Toronto: a new country, city, network and device for them. The attack's
///   own alert is about failures, which have no session, so the app's first sync (which
///   keeps the history's alerts on active sessions only) shows the sign-in it ended in. A
///   brute force on one member would be no story here: the server locks a member out after
///   five wrong passwords in 15 minutes.
///
/// Returns the steps, and the residents they involve.
fn incidents(
    residents: &[Resident],
    now: DateTime<Utc>,
    rng: &mut StdRng,
) -> anyhow::Result<(Vec<Step>, Vec<usize>)> {
    let cities = geo::bundled().networks();
    let network = |city: &str| {
        cities
            .iter()
            .find(|(_, l)| l.city.as_deref() == Some(city))
            .map(|(n, _)| *n)
            .with_context(|| format!("{city} is not in the bundled geolocation table"))
    };
    // The first member (not the owner or the admin) whose home is in `city`.
    let living_in = |city: &str| -> anyhow::Result<usize> {
        let home = network(city)?;
        residents
            .iter()
            .position(|r| r.member.role == Role::Member && r.home == home)
            .with_context(|| format!("no demo member lives in {city}"))
    };
    let (abroad, flyer, victim) = (
        living_in("Berlin")?,
        living_in("New York")?,
        living_in("Toronto")?,
    );
    let mut steps = Vec::new();
    let ago = |minutes: i64| now - Duration::minutes(minutes);

    let agent = residents[abroad].laptop();
    let ip = address_in(&network("Tokyo")?, rng);
    let browser = Browser::Stranger;
    steps.push((ago(40), abroad, Act::SignIn { ip, agent, browser }));

    let agent = residents[flyer].laptop();
    let ip = address_in(&residents[flyer].home, rng);
    let browser = Browser::Own;
    steps.push((ago(55), flyer, Act::SignIn { ip, agent, browser }));
    let ip = address_in(&network("San Francisco")?, rng);
    steps.push((ago(20), flyer, Act::SignIn { ip, agent, browser }));

    let ip = address_in(&network("Singapore")?, rng);
    let sprayed = (0..residents.len())
        .filter(|&r| residents[r].member.role == Role::Member && r != victim)
        .take(SPRAYED);
    let start = ago(34);
    for (i, r) in sprayed.enumerate() {
        let at = start + Duration::seconds(15 * i as i64);
        steps.push((
            at,
            r,
            Act::WrongPassword {
                ip,
                agent: SPRAY_AGENT,
            },
        ));
    }
    steps.push((
        ago(27),
        victim,
        Act::SignIn {
            ip,
            agent: SPRAY_AGENT,
            browser: Browser::Stranger,
        },
    ));
    Ok((steps, vec![abroad, flyer, victim]))
}

fn sign_in(
    app: &App,
    conn: &mut store::Locked<'_>,
    resident: &Resident,
    (agent, browser): (&str, Browser),
    ip: IpAddr,
    at: DateTime<Utc>,
) -> anyhow::Result<String> {
    let location = app.geo().locate(ip);
    let autonomous_system = app.asn().lookup(ip);
    let digest = token::digest(&token::generate());
    // Seeded like the rest of the history: the same start gives the same ids.
    let member = &resident.member.id;
    let device_id = token::device_id(&match browser {
        Browser::Own => format!("demo {member} {agent}"),
        Browser::Stranger => format!("demo {member} stranger {}", at.timestamp()),
    });
    Ok(conn.create_session(
        &resident.member,
        &NewSession {
            token_digest: &digest,
            user_agent: agent,
            ip: &ip.to_string(),
            location: location.as_ref(),
            autonomous_system: autonomous_system.as_ref(),
            device_id: Some(&device_id),
            now: at,
        },
    )?)
}

fn sign_out(
    conn: &mut store::Locked<'_>,
    session_id: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    if let Some((session, workspace_id)) = conn.session_by_id(session_id)?
        && session.status == SessionStatus::Active
    {
        conn.end_session(
            &session,
            &workspace_id,
            &Ending {
                status: SessionStatus::SignedOut,
                reason: EndReason::SignOut,
                at,
                event: EventKind::SignedOut,
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
        let mut conn = store.lock();
        let mut run = || -> anyhow::Result<()> {
            let ws = conn
                .workspace_id_of(DEMO_WORKSPACE)?
                .context("the demo workspace is missing")?;
            let (members, _) = conn.members_in(&ws, None, 0, 1000)?;
            let members: Vec<MemberRow> = members
                .into_iter()
                .filter(|m| m.role == Role::Member)
                .collect();
            let Some(member) = members.get(pick % members.len().max(1)).cloned() else {
                return Ok(());
            };
            // Home is where the member last signed in from, in the bundled table.
            let Some((last_ip, last_agent)) = conn.latest_sign_in_of(&member.id)? else {
                return Ok(());
            };
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
                    let browser = (AGENTS[1], Browser::Stranger);
                    sign_in(&geo_app, &mut conn, &resident, browser, ip, now)?;
                }
                1..=4 => {
                    let active = conn.all_active_sessions(Scope::Member(&member.id))?;
                    if let Some(s) = active.first() {
                        sign_out(&mut conn, &s.id, now)?;
                    }
                }
                _ => {
                    let ip = address_in(&resident.home, &mut step_rng);
                    let browser = (agent, Browser::Own);
                    sign_in(&geo_app, &mut conn, &resident, browser, ip, now)?;
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

/// Starts a demo server in this process on the database `db` (a SQLite file or PostgreSQL),
/// seeded with the `acme` workspace unless it has it already, served in dev mode on a free
/// loopback port, with a traffic step every `traffic_interval`.
/// Runs until the process ends; gives the server's URL. Call it within a Tokio runtime.
pub async fn start(
    db: &store::Database,
    traffic_interval: std::time::Duration,
) -> anyhow::Result<String> {
    let store = store::Store::connect(db).await?;
    let app = App::new(store, crate::ServerConfig::with_dev(true));
    seed(&app).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the demo server")?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(simulate_traffic(app.clone(), traffic_interval));
    tokio::spawn(async move {
        if let Err(e) = crate::serve(listener, app, std::future::pending()).await {
            tracing::error!(error = %e, "the demo server stopped");
        }
    });
    Ok(url)
}
