//! The device cookies of members' browsers and of attackers': which device id a sign-in
//! records, and which one a failed sign-in presents. Drawn from generators of their own, so
//! that adding them left every other draw of the model as it was.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng as _};

/// Of a member's sign-ins, the share from a private window or another browser: no device
/// cookie is presented, and the one the sign-in sets is never seen again.
pub(super) const PRIVATE_SHARE: f64 = 0.04;
/// Of a member's sign-ins, the share after the browser lost its cookies (cleared, a
/// reinstalled browser, a new machine with the same label): no cookie is presented, and the
/// new one stays.
pub(super) const CLEARED_SHARE: f64 = 0.01;

/// A fresh device id, as a server would derive one.
fn fresh(rng: &mut StdRng) -> String {
    format!("dev_{:032x}", rng.random::<u128>())
}

/// A generator seeded from `key`, for draws that must not move the model's others.
fn seeded(key: &str) -> StdRng {
    StdRng::seed_from_u64(crate::state::member_hash(key))
}

/// One sign-in's device cookies: the one the browser presented (failed sign-ins just before
/// record it), and the one the sign-in records.
#[derive(Debug, Clone)]
pub(super) struct Cookies {
    pub(super) presented: Option<String>,
    pub(super) recorded: String,
}

/// A member's browsers, by device label, and the device cookie each holds.
#[derive(Debug)]
pub(super) struct Browsers {
    rng: StdRng,
    held: HashMap<&'static str, String>,
}

impl Browsers {
    /// The browsers of the member with id `member`.
    pub(super) fn of(member: &str) -> Self {
        Self {
            rng: seeded(&format!("browsers {member}")),
            held: HashMap::new(),
        }
    }

    /// The cookies of a sign-in on the browser labelled `device`.
    pub(super) fn sign_in(&mut self, device: &'static str) -> Cookies {
        let x = self.rng.random::<f64>();
        if x < PRIVATE_SHARE {
            return Cookies {
                presented: None,
                recorded: fresh(&mut self.rng),
            };
        }
        let presented = if x < PRIVATE_SHARE + CLEARED_SHARE {
            self.held.remove(device);
            None
        } else {
            self.held.get(device).cloned()
        };
        let recorded = match &presented {
            Some(id) => id.clone(),
            None => {
                let id = fresh(&mut self.rng);
                self.held.insert(device, id.clone());
                id
            }
        };
        Cookies {
            presented,
            recorded,
        }
    }
}

/// The device id of an attacker's browser in takeover `incident`: one the victim's never had,
/// the same at each of the attacker's sign-ins.
pub(super) fn attacker(incident: u32) -> String {
    fresh(&mut seeded(&format!("attacker {incident}")))
}
