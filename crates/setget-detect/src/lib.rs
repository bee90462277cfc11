//! The detector: which sign-ins are unfamiliar, and which failures are a password attack.
//!
//! Pure and deterministic: it reads audit events in `seq` order and keeps, per member, the
//! earlier successful sign-ins it has seen; time comes from the events themselves, never
//! from a clock, and nothing here reads or writes a file. The same [`Detector`] serves the
//! app's live sync (fed each event as it arrives), its first sync (fed history to build
//! baselines) and `setget-admin detect --replay`; the app keeps its [`DetectorState`].
//!
//! Two rule sets. [`DetectorConfig::okta_defaults`] are the published Okta defaults:
//! - new country (not among the member's last 10 sign-ins), new city (not among the last 20),
//!   new network (an IP in no /24 or /48 the member signed in from before), new device
//!   (browser and OS not among the last 20);
//! - impossible travel: from the previous sign-in, faster than 1000 km/h over more than
//!   50 km (geolocation is city-level, so shorter hops are noise);
//! - a learning period: no "new …" reasons until the member has 5 earlier sign-ins spread
//!   over at least 5 days (impossible travel still applies);
//! - trusted networks and countries (workspace-wide) are never "new", and
//!   [`Detector::mark_familiar`] teaches a member's baseline;
//! - password attacks: 10 failed sign-ins of one member within 10 minutes, or 20 from one IP
//!   across members, one alert per attack;
//! - severity: high for impossible travel, a new country or a password attack; medium for a
//!   new city, or a new device from a new network; low otherwise. An event alerts once.
//!
//! [`DetectorConfig::default`], the rules the app uses, are the same with these changes, each
//! a field of the configuration:
//! 1. **Carrier networks.** With a new city, a network counts as new only at the level an
//!    ISP hands out to the same customers: the /16 (IPv4) or /32 (IPv6). A new /24 or /48
//!    inside a known one is still reported, low.
//! 2. **A new city needs more.** A new city is medium only with a new carrier network or a
//!    new device: the same laptop on its own ISP's range in another city is the ISP's
//!    geolocation; a hotel's or an attacker's network is a new carrier network.
//! 3. **Impossible travel needs a network never used.** Only a sign-in from a carrier network
//!    the member never used can end an impossible journey: a known carrier's pool or the VPN
//!    egress jumping across the country is not travel.
//! 4. **Phones roam.** On iOS and Android, in a country the member is known in, the city is
//!    the carrier's, not the phone's: no new city and no impossible travel; a new network, a
//!    new device or a new country count as ever.
//! 5. **City radius.** A "new" city within 50 km of one among the latest 20 sign-ins is the
//!    same place: geolocation is city-level, the noise impossible travel already ignores.
//! 6. **Workspace networks.** A /24 or /48 five members signed in from, the first at least a
//!    week before, is the workspace's own (an office, the VPN's egress) and trusted like a
//!    configured network.
//! 7. **Known browsers.** A sign-in from a browser the member signed in from before (its
//!    device id, from the server's device cookie, among their last 16 that signed in without
//!    a medium or high alert or were marked familiar) is the member: a new
//!    country, city, network or hosting provider is low ([`Reason::KnownDevice`]); impossible
//!    travel and password attacks are what they were.
//!
//! With autonomous systems named, a hosting provider's network the member never used is a
//! reason of its own (medium); networks judged by their operator are measured and left off.
//!
//! Why each change was kept, what it was measured against and what the tuned rules still
//! alert on are in ARCHITECTURE.md, under "Detection" (the measured figures live there
//! only); `cargo xtask bench detect` measures them again, and the crate's integration test
//! holds the tuned rules to their targets on the benchmark's log.
//!
//! # The code
//!
//! Each module imports only those listed before it: `reason` (the vocabulary: [`Severity`],
//! [`Reason`], [`Detection`]), `geo` (networks and distances), `state` (what a detector
//! remembers), `config` (the rule sets and severity), `rules` (one function per rule),
//! `detector` (the [`Detector`], which composes the rules over the state) and, with the
//! `loggen` feature, `loggen` (the realistic log generator and the scoring against its
//! labels).

mod config;
mod detector;
mod geo;
mod hosting;
#[cfg(feature = "loggen")]
pub mod loggen;
mod reason;
mod rules;
mod state;
#[cfg(test)]
mod tests;

pub use config::{DetectorConfig, severity_of};
pub use detector::Detector;
pub use geo::{distance_km, network_of};
pub use hosting::{HOSTING_ASNS, is_hosting};
pub use reason::{Detection, Reason, Severity};
pub use state::DetectorState;
