//! What a detector remembers between events: each member's recent sign-ins and networks, the
//! recent failed sign-ins, the networks members share and how far it read
//! ([`DetectorState`], serialisable so that the app can save it). Bookkeeping only: the rules
//! that read it live elsewhere.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A name many sign-ins share (a country, a city, a device label): one copy per detector,
/// behind a thin pointer (8 bytes, where an `Arc<str>` takes 16: a detector holds up to 20
/// sign-ins of three names for each member). Saved as its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Name(Arc<Box<str>>);

impl Name {
    fn new(text: &str) -> Self {
        Self(Arc::new(Box::from(text)))
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Ok(Self::new(&text))
    }
}

/// One earlier successful sign-in of a member. Kept small, since a detector holds up to 20
/// per member: names are shared, coordinates single precision (a metre or so).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignIn {
    pub(crate) at: DateTime<Utc>,
    pub(crate) country: Option<Name>,
    pub(crate) city: Option<Name>,
    pub(crate) device: Option<Name>,
    pub(crate) point: Option<(f32, f32)>,
    /// From a trusted network (a VPN egress says nothing about where the member was).
    pub(crate) trusted: bool,
}

impl SignIn {
    /// "Paris, FR", "FR", or "an unknown place".
    pub(crate) fn place(&self) -> String {
        match (&self.city, &self.country) {
            (Some(city), Some(cc)) => format!("{city}, {cc}"),
            (None, Some(cc)) => cc.to_string(),
            (Some(city), None) => city.to_string(),
            (None, None) => "an unknown place".to_owned(),
        }
    }

    pub(crate) fn point(&self) -> Option<(f64, f64)> {
        self.point
            .map(|(lat, lon)| (f64::from(lat), f64::from(lon)))
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct History {
    /// The latest sign-ins, oldest first (as many as the longest window).
    pub(crate) recent: VecDeque<SignIn>,
    /// Every network (/24 or /48, and carrier network) the member signed in from.
    pub(crate) networks: HashSet<IpNet>,
    /// Every autonomous system the member signed in from (of the sign-ins whose server
    /// named one).
    #[serde(default)]
    pub(crate) systems: HashSet<u32>,
    /// The browsers (device ids, hashed) the member signed in from lately, the latest last.
    #[serde(default)]
    pub(crate) devices: VecDeque<u64>,
    pub(crate) first_at: Option<DateTime<Utc>>,
    pub(crate) count: usize,
    /// Places and devices the admin marked as familiar for this member.
    pub(crate) familiar: HashSet<String>,
}

/// How many of a member's browsers a detector remembers: enough for their devices and the
/// odd private window in between.
pub(crate) const KEPT_DEVICES: usize = 16;

impl History {
    /// Whether the member signed in from the browser `device_id` lately.
    pub(crate) fn knows_device(&self, device_id: &str) -> bool {
        self.devices.contains(&member_hash(device_id))
    }

    /// The browser `device_id` signed the member in: it is the latest.
    pub(crate) fn saw_device(&mut self, device_id: &str) {
        let hash = member_hash(device_id);
        self.devices.retain(|d| *d != hash);
        if self.devices.len() >= KEPT_DEVICES {
            self.devices.pop_front();
        }
        self.devices.push_back(hash);
    }

    /// A sign-in joins the history: its networks are known from now on, and it is the latest
    /// of the `keep` kept.
    pub(crate) fn record(
        &mut self,
        now: SignIn,
        networks: [Option<IpNet>; 2],
        system: Option<u32>,
        device_id: Option<&str>,
        keep: usize,
    ) {
        if let Some(id) = device_id {
            self.saw_device(id);
        }
        self.first_at.get_or_insert(now.at);
        self.count += 1;
        self.networks.extend(networks.into_iter().flatten());
        self.systems.extend(system);
        while self.recent.len() >= keep {
            self.recent.pop_front();
        }
        // Grown by doubling up to `keep` exactly (left alone, a deque of 20 takes 32).
        let len = self.recent.len();
        if len == self.recent.capacity() {
            let room = (len * 2).max(4).min(keep);
            self.recent.reserve_exact(room.saturating_sub(len));
        }
        self.recent.push_back(now);
    }
}

/// Failed sign-ins from an IP: when, which member's account they tried (if any), and how
/// many the event stands for (the rules' `weight`).
pub(crate) type Failure = (DateTime<Utc>, Option<String>, usize);

/// What a detector learnt from the events it read: the members' baselines, recent failures,
/// the workspace's shared networks, and how far it read. Serialisable, so that the app can
/// keep it beside the log instead of reading the whole log again at every start.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct DetectorState {
    pub(crate) members: HashMap<String, History>,
    /// Per member, when failed sign-ins came and how many each event stood for.
    pub(crate) member_failures: HashMap<String, VecDeque<(DateTime<Utc>, usize)>>,
    pub(crate) ip_failures: HashMap<String, VecDeque<Failure>>,
    /// Until when a member or an IP is already reported as under attack.
    pub(crate) attack_reported: HashMap<String, DateTime<Utc>>,
    /// The last `seq` read: an event at or below it is a replay.
    pub(crate) last_seq: Option<i64>,
    /// Per /24 or /48, who signed in from it (for the workspace-network rule,
    /// `DetectorConfig::shared_network_members`).
    pub(crate) shared: HashMap<IpNet, SharedNetwork>,
    /// The one copy of each name the sign-ins hold.
    #[serde(skip)]
    pub(crate) names: HashSet<Name>,
}

impl DetectorState {
    /// The shared copy of `name`.
    pub(crate) fn name(&mut self, name: Option<&str>) -> Option<Name> {
        let name = name?;
        if let Some(known) = self.names.get(name) {
            return Some(known.clone());
        }
        let new = Name::new(name);
        self.names.insert(new.clone());
        Some(new)
    }

    /// Shares the names of a state read back from its saved form (decoding gives each
    /// sign-in its own copies).
    pub(crate) fn share_names(&mut self) {
        let mut names = std::mem::take(&mut self.names);
        let mut share = |n: &mut Option<Name>| {
            if let Some(name) = n.as_mut() {
                match names.get(&**name) {
                    Some(known) => *name = known.clone(),
                    None => {
                        names.insert(name.clone());
                    }
                }
            }
        };
        for history in self.members.values_mut() {
            for s in history.recent.iter_mut() {
                share(&mut s.country);
                share(&mut s.city);
                share(&mut s.device);
            }
        }
        self.names = names;
    }

    /// Gives back the room a state read back from its saved form holds beyond what it keeps:
    /// decoding grows each list by doubling, so a member's 20 recent sign-ins took room for
    /// 32 (with 10,000 members, 26 MB instead of 16 MB held for as long as the app runs). The
    /// state is copied whole (a list's copy holds just its items) and the decoded one dropped:
    /// shrinking each list in place instead left its spare room as a hole between the parts
    /// that stay, too small to go back to the system, where the decoded state, made in one
    /// go, is freed in one piece.
    pub(crate) fn fit(&mut self) {
        *self = self.clone();
    }

    /// The last `seq` read, if any.
    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }
}

/// The first members (by a hash of their id) who signed in from a network, and when the first
/// of them did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SharedNetwork {
    pub(crate) members: Vec<u64>,
    pub(crate) since: DateTime<Utc>,
}

/// A hash of a member id (or a device id) that never changes (it is saved with the
/// detector's state): 64-bit FNV-1a. The standard library's hasher promises the same value
/// only within one build.
pub(crate) fn member_hash(member: &str) -> u64 {
    member.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
