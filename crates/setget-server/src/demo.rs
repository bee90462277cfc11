//! The demo workspace `acme`: an owner, a few members, and sessions from several places, so
//! that a fresh server has something to show.

use chrono::Duration;
use setget_protocol::Role;

use crate::store::{self, NewMember, NewSession};
use crate::{App, password, token};

/// The demo workspace's slug.
pub const DEMO_WORKSPACE: &str = "acme";
/// The demo owner's email.
pub const DEMO_OWNER_EMAIL: &str = "owner@acme.test";
/// The demo owner's password (documented in the README; demo servers only).
pub const DEMO_OWNER_PASSWORD: &str = "setget-demo";

const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const FIREFOX_WIN: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";

/// Creates the demo workspace with its members and their sessions. Fails if it exists.
pub fn seed(app: &App) -> anyhow::Result<()> {
    let now = app.clock().now();
    let people = [
        (DEMO_OWNER_EMAIL, "Olivia Owner", Role::Owner),
        ("admin@acme.test", "Adam Admin", Role::Admin),
        ("maya@acme.test", "Maya Patel", Role::Member),
        ("lucas@acme.test", "Lucas Moreau", Role::Member),
    ];
    let mut members = Vec::new();
    for (email, name, role) in people {
        let secret = if role == Role::Owner {
            DEMO_OWNER_PASSWORD.to_owned()
        } else {
            token::generate()
        };
        members.push(NewMember {
            email: email.to_owned(),
            display_name: name.to_owned(),
            role,
            password_hash: password::hash(&secret)?,
        });
    }
    let mut conn = app.store().conn();
    let (_, ids) = store::create_workspace(&mut conn, DEMO_WORKSPACE, "Acme Inc.", &members, now)?;
    // (member index, user agent, ip, how long ago)
    let sessions = [
        (0, CHROME_MAC, "203.0.113.10", Duration::days(3)),
        (0, SAFARI_IOS, "198.51.100.24", Duration::hours(20)),
        (1, FIREFOX_WIN, "203.0.113.77", Duration::days(1)),
        (2, CHROME_ANDROID, "192.0.2.45", Duration::hours(5)),
        (3, CHROME_MAC, "198.51.100.200", Duration::minutes(40)),
    ];
    for (index, user_agent, ip, ago) in sessions {
        let Some(member_id) = ids.get(index) else {
            continue;
        };
        let Some(member) = store::member_by_id(&conn, member_id)? else {
            continue;
        };
        let digest = token::digest(&token::generate());
        store::create_session(
            &mut conn,
            &member,
            &NewSession {
                token_digest: &digest,
                user_agent,
                ip,
                location: None,
                now: now - ago,
            },
        )?;
    }
    Ok(())
}
