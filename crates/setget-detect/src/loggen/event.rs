//! What an event is before it is an audit event: the [`Tag`] kept beside it (its [`Label`],
//! the incident it belongs to, where its address came from: [`Source`]), its address
//! ([`Addr`]) and its [`Draft`]. Imports no other part of the generator.

use chrono::{DateTime, Utc};
use setget_protocol::{EventKind, EventReason};

/// What an event is, beside the event itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// A member's own sign-in.
    Legit,
    /// A member's own mistyped password.
    LegitFailure,
    /// An attacker signed in from a country the victim was never seen in.
    AtoNewCountry,
    /// An attacker signed in from another city of the victim's country.
    AtoOtherCity,
    /// An attacker signed in from the victim's own city on a device the victim never used.
    AtoOwnCity,
    /// A failed sign-in of a password spray.
    Spray,
    /// Anything else (sign-outs).
    Other,
}

impl Label {
    /// The label as the labels file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Legit => "legit",
            Self::LegitFailure => "legit_failure",
            Self::AtoNewCountry => "ato_new_country",
            Self::AtoOtherCity => "ato_other_city",
            Self::AtoOwnCity => "ato_own_city",
            Self::Spray => "spray",
            Self::Other => "other",
        }
    }

    /// Whether this is an attacker's sign-in.
    pub fn is_ato(self) -> bool {
        matches!(
            self,
            Self::AtoNewCountry | Self::AtoOtherCity | Self::AtoOwnCity
        )
    }
}

/// Where an event's address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The member's home broadband.
    Home,
    /// Their office's network.
    Office,
    /// The corporate VPN's egress.
    Vpn,
    /// Mobile data in the home country (a phone, or a laptop tethered to it).
    Mobile,
    /// Mobile data abroad, routed home by the home carrier.
    Roaming,
    /// A hotel's wifi on a trip.
    Hotel,
    /// A venue's or client's network on a business trip.
    Venue,
    /// An attacker's address (account takeovers and sprays).
    Attacker,
}

impl Source {
    /// The source as the labels file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Home => "home",
            Self::Office => "office",
            Self::Vpn => "vpn",
            Self::Mobile => "mobile",
            Self::Roaming => "roaming",
            Self::Hotel => "hotel",
            Self::Venue => "venue",
            Self::Attacker => "attacker",
        }
    }
}

/// The label of an event, for attacks which one (account takeovers and sprays are numbered
/// separately, from 0), and where its address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub label: Label,
    pub incident: Option<u32>,
    pub source: Source,
}

/// The address and geolocated city of one sign-in.
#[derive(Debug, Clone)]
pub(super) struct Addr {
    pub(super) ip: String,
    pub(super) city: usize,
    pub(super) source: Source,
    /// The autonomous system of the address's ISP: number and organisation.
    pub(super) system: (u32, String),
}

/// An event before it has a seq and an id.
#[derive(Debug, Clone)]
pub(super) struct Draft {
    pub(super) at: DateTime<Utc>,
    pub(super) event: EventKind,
    pub(super) member: usize,
    pub(super) session: Option<String>,
    pub(super) addr: Addr,
    pub(super) device: &'static str,
    /// The device id the event records (see `devices`).
    pub(super) device_id: Option<String>,
    pub(super) reason: Option<EventReason>,
    /// Whether the event carries the location (sign-ins do, failures and sign-outs not).
    pub(super) located: bool,
    pub(super) tag: Tag,
}
