//! The [`Detector`]: fed audit events in `seq` order, it applies its configuration's rules to
//! each sign-in and failed sign-in and learns from them.

use std::net::IpAddr;

use setget_protocol::{AuditEvent, EventKind};

use crate::config::DetectorConfig;
use crate::geo::network_with;
use crate::reason::{Detection, Reason, Severity};
use crate::rules::{self, SignInFacts};
use crate::state::{DetectorState, SignIn};

/// The detector: its configuration and what it learnt.
#[derive(Debug, Default)]
pub struct Detector {
    config: DetectorConfig,
    state: DetectorState,
}

impl Detector {
    /// A detector with `config`.
    pub fn new(config: DetectorConfig) -> Self {
        Self {
            config,
            state: DetectorState::default(),
        }
    }

    /// A detector with `config` that goes on from `state`.
    pub fn resume(config: DetectorConfig, mut state: DetectorState) -> Self {
        state.share_names();
        state.fit();
        Self { config, state }
    }

    /// What it learnt so far.
    pub fn state(&self) -> &DetectorState {
        &self.state
    }

    /// The events it judges: sign-ins and failed sign-ins. Any other moves only its place in
    /// the log, so a reader may leave them out.
    pub const JUDGED: [EventKind; 2] = [EventKind::SignedIn, EventKind::SignInFailed];

    /// Feeds one audit event (in `seq` order); returns the alert it raises, if any. An event
    /// whose `seq` is not above the last one read is a replay and changes nothing.
    pub fn observe(&mut self, e: &AuditEvent) -> Option<Detection> {
        if self.state.last_seq.is_some_and(|last| e.seq <= last) {
            return None;
        }
        self.state.last_seq = Some(e.seq);
        match e.event {
            EventKind::SignedIn => self.sign_in(e),
            EventKind::SignInFailed => self.failure(e),
            _ => None,
        }
    }

    /// Teaches the member's baseline that the place, network and device of `e` are theirs.
    pub fn mark_familiar(&mut self, e: &AuditEvent) {
        let Some(member) = &e.member_id else {
            return;
        };
        let history = self.state.members.entry(member.clone()).or_default();
        let loc = e.location.as_ref();
        for key in [
            loc.and_then(|l| l.country_code.clone())
                .map(|c| format!("country:{c}")),
            loc.and_then(|l| l.city.clone())
                .map(|c| format!("city:{c}")),
            e.device.clone().map(|d| format!("device:{d}")),
        ]
        .into_iter()
        .flatten()
        {
            history.familiar.insert(key);
        }
        history.systems.extend(e.asn);
        if let Some(id) = &e.device_id {
            history.saw_device(id);
        }
        if let Some(ip) = e.ip.as_deref().and_then(|ip| ip.parse().ok()) {
            let prefixes = [(24, 48), self.config.carrier_prefix];
            history
                .networks
                .extend(prefixes.into_iter().filter_map(|p| network_with(ip, p)));
        }
    }

    /// A successful sign-in: the trusted and workspace networks, then impossible travel
    /// and, once the member is learnt and unless the network is trusted, a new country,
    /// city, network and device. The sign-in then joins the member's history.
    fn sign_in(&mut self, e: &AuditEvent) -> Option<Detection> {
        let member = e.member_id.clone()?;
        let loc = e.location.as_ref();
        let ip = e.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok());
        let network = ip.and_then(|ip| network_with(ip, (24, 48)));
        let carrier = ip.and_then(|ip| network_with(ip, self.config.carrier_prefix));
        let shared = network.is_some_and(|net| {
            rules::workspace_network(&self.config, &mut self.state, net, &member, e.at)
        });
        let trusted = shared || rules::trusted_network(&self.config, e.ip.as_deref());
        let now = SignIn {
            at: e.at,
            country: self.state.name(loc.and_then(|l| l.country_code.as_deref())),
            city: self.state.name(loc.and_then(|l| l.city.as_deref())),
            device: self.state.name(e.device.as_deref()),
            point: loc.and_then(|l| Some((l.latitude? as f32, l.longitude? as f32))),
            trusted,
        };
        let cfg = &self.config;
        let history = self.state.members.entry(member.clone()).or_default();
        let system = e.asn.map(|asn| (asn, e.as_org.as_deref()));
        let facts = SignInFacts {
            cfg,
            history,
            now: &now,
            network,
            carrier,
            system,
        };
        let mut reasons: Vec<Reason> = facts.impossible_travel().into_iter().collect();
        if facts.learned() && !now.trusted {
            let new = [
                facts.new_country(),
                facts.new_city(),
                facts.new_network(),
                facts.new_device(),
                facts.hosting_network(),
            ];
            reasons.extend(new.into_iter().flatten());
        }
        let device_id = e.device_id.as_deref();
        let known =
            |id: &&str| cfg.known_devices && !reasons.is_empty() && history.knows_device(id);
        if let Some(id) = device_id.filter(known) {
            reasons.push(Reason::KnownDevice {
                device_id: id.to_owned(),
            });
        }
        let severity = cfg.severity(&reasons);
        // A browser is the member's once it signed in without a medium or high alert (or an
        // admin marked one of its alerts familiar): an attacker's, alerted on, stays a
        // stranger at its next sign-ins.
        let trusted_browser = device_id.filter(|_| severity.is_none_or(|s| s < Severity::Medium));
        let keep = cfg.kept_sign_ins();
        history.record(now, [network, carrier], e.asn, trusted_browser, keep);

        let severity = severity?;
        Some(Detection {
            event_id: e.id.clone(),
            seq: e.seq,
            member_id: Some(member),
            severity,
            reasons,
        })
    }

    /// A failed sign-in: a password attack on the member, then from the address.
    fn failure(&mut self, e: &AuditEvent) -> Option<Detection> {
        let on_member = rules::password_attack_on_member(&self.config, &mut self.state, e);
        let from_ip = rules::password_attack_from_ip(&self.config, &mut self.state, e);
        let reasons: Vec<Reason> = on_member.into_iter().chain(from_ip).collect();
        let severity = self.config.severity(&reasons)?;
        Some(Detection {
            event_id: e.id.clone(),
            seq: e.seq,
            member_id: e.member_id.clone(),
            severity,
            reasons,
        })
    }
}
