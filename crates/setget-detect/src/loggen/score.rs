//! Scores a detector against a generated log's labels: how many account takeovers it flags
//! at medium or high, how many legitimate sign-ins it alerts on at medium or high, what it
//! makes of sprays and of members' own mistyped passwords ([`Figures`], [`evaluate`]), and
//! the targets the tuned rules must meet. `cargo xtask bench detect` and the crate's tests
//! both measure with it.

use setget_protocol::EventKind;
use std::collections::{BTreeMap, HashSet};

use super::event::Label;
use super::generate::Generated;
use crate::config::DetectorConfig;
use crate::detector::Detector;
use crate::reason::{Reason, Severity};

/// The kinds of account takeover, in the order the figures list them.
pub const KINDS: [(Label, &str); 3] = [
    (Label::AtoNewCountry, "from a new country"),
    (Label::AtoOtherCity, "from another city of the country"),
    (Label::AtoOwnCity, "from the own city, new device"),
];

/// The targets: recall at medium or high, legitimate sign-ins alerted at medium or high, and
/// the tuned rules' legitimate alerts relative to the Okta defaults'.
pub const TARGET_RECALL: f64 = 0.95;
pub const TARGET_LEGIT_RATE: f64 = 0.005;
pub const TARGET_RATIO: f64 = 0.25;

/// What one configuration of the detector made of one log.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    pub sign_ins: usize,
    pub legit_sign_ins: usize,
    /// Legitimate sign-ins alerted at medium or high.
    pub legit_alerted: usize,
    /// Per kind (as [`KINDS`]): account takeovers, and those with a sign-in alerted at
    /// medium or high.
    pub takeovers: [usize; 3],
    pub flagged: [usize; 3],
    /// Every alert by severity: low, medium, high.
    pub by_severity: [usize; 3],
    pub sprays: usize,
    pub sprays_flagged: usize,
    /// Alerts on members' own mistyped passwords.
    pub legit_failure_alerts: usize,
    /// The reasons of the medium and high alerts on legitimate sign-ins, by combination.
    pub legit_reasons: BTreeMap<String, usize>,
    /// The same alerts by where the sign-in's address came from.
    pub legit_sources: BTreeMap<&'static str, usize>,
}

impl Figures {
    /// The share of account takeovers flagged at medium or high.
    pub fn recall(&self) -> f64 {
        let total: usize = self.takeovers.iter().sum();
        self.flagged.iter().sum::<usize>() as f64 / total.max(1) as f64
    }

    /// The share of legitimate sign-ins alerted at medium or high.
    pub fn legit_rate(&self) -> f64 {
        self.legit_alerted as f64 / self.legit_sign_ins.max(1) as f64
    }
}

fn reason_name(r: &Reason) -> &'static str {
    match r {
        Reason::NewCountry { .. } => "new country",
        Reason::NewCity { .. } => "new city",
        Reason::NewNetwork { .. } => "new network",
        Reason::HostingNetwork { .. } => "hosting network",
        Reason::NewDevice { .. } => "new device",
        Reason::KnownDevice { .. } => "known device",
        Reason::ImpossibleTravel { .. } => "impossible travel",
        Reason::PasswordAttackOnMember { .. } => "attack on member",
        Reason::PasswordAttackFromIp { .. } => "attack from IP",
    }
}

/// Runs a detector with `config` over `log` and scores its alerts against the labels.
pub fn evaluate(log: &Generated, config: DetectorConfig) -> Figures {
    let mut detector = Detector::new(config);
    let mut f = Figures::default();
    let mut takeovers: [HashSet<u32>; 3] = Default::default();
    let mut flagged: [HashSet<u32>; 3] = Default::default();
    let mut sprays = HashSet::new();
    let mut sprays_flagged = HashSet::new();
    for (e, tag) in log.events.iter().zip(&log.tags) {
        let alert = detector.observe(e);
        let kind = KINDS.iter().position(|(l, _)| *l == tag.label);
        debug_assert_eq!(kind.is_some(), tag.label.is_ato());
        if e.event == EventKind::SignedIn {
            f.sign_ins += 1;
            f.legit_sign_ins += usize::from(tag.label == Label::Legit);
        }
        if let (Some(k), Some(i)) = (kind, tag.incident) {
            takeovers[k].insert(i);
        }
        if tag.label == Label::Spray {
            sprays.extend(tag.incident);
        }
        let Some(alert) = alert else {
            continue;
        };
        f.by_severity[alert.severity as usize] += 1;
        let serious = alert.severity >= Severity::Medium;
        match (tag.label, kind) {
            (Label::Legit, _) if serious => {
                f.legit_alerted += 1;
                let names: Vec<&str> = alert.reasons.iter().map(reason_name).collect();
                *f.legit_reasons.entry(names.join(" + ")).or_default() += 1;
                *f.legit_sources.entry(tag.source.as_str()).or_default() += 1;
            }
            (_, Some(k)) if serious => {
                flagged[k].extend(tag.incident);
            }
            (Label::Spray, _) => {
                sprays_flagged.extend(tag.incident);
            }
            (Label::LegitFailure, _) => f.legit_failure_alerts += 1,
            _ => {}
        }
    }
    f.takeovers = takeovers.map(|s| s.len());
    f.flagged = flagged.map(|s| s.len());
    f.sprays = sprays.len();
    f.sprays_flagged = sprays_flagged.len();
    f
}

/// The configuration with the VPN egress of `log` trusted, or not.
pub fn with_vpn(mut config: DetectorConfig, log: &Generated, trusted: bool) -> DetectorConfig {
    if trusted && let Ok(net) = log.vpn_network.parse() {
        config.trusted_networks.push(net);
    }
    config
}
