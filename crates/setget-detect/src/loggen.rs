//! A realistic audit log of a workspace, for measuring the detector: `cargo xtask gen-log`
//! writes one as JSON lines (what `setget-admin detect --replay` reads), `cargo xtask bench
//! detect` measures the detector on one, and the crate's tests hold the tuned rules to their
//! targets on one ([`score`]). Pure, like the rules: no I/O, no clock, all randomness from
//! the seed.
//!
//! The log is deterministic (one seed gives one log) and every event is a valid
//! [`AuditEvent`](setget_protocol::AuditEvent): `seq` gap-free from 1, unique ids (UUIDs
//! drawn from the seeded generator), in time order. Each event carries a [`Tag`] kept beside
//! it, never inside it: legitimate, or which account takeover or password spray it belongs
//! to, and where its address came from (home, office, VPN, mobile, roaming, hotel, venue,
//! attacker) for the benchmark's breakdowns.
//!
//! # The model, and its assumptions
//!
//! The aim is a log that looks like a real one to the detector, not one that flatters a
//! rule. Every figure below is an assumption; where a choice had to be made, it leans
//! towards the noisier reality.
//!
//! **Places.** An embedded table of real cities with their real coordinates, metropolitan
//! populations (rounded, in thousands) and standard-time UTC offsets (daylight saving is
//! ignored: it moves local hours by one and changes no distance). Members live in ten
//! countries (GB, US, DE, FR, NL, ES, IT, PL, SE, IE) with several cities each, including
//! commuter towns near the offices; a few more countries serve as travel destinations and
//! attack origins. A location carries city, country and coordinates (no region).
//!
//! **Members.** A company with offices in twelve cities (HQ London). A member lives in a
//! city of their country drawn by population. Members within 90 km of an office of their
//! country are hybrid commuters with probability 0.6 (two to four fixed office days a week,
//! at the office 09:00–17:30 local, commuting an hour either side); the others work from
//! home. 8 % join during the period (new hires); the rest are there from the first day,
//! when the detector first sees the workspace: every member starts in the learning period
//! (conservative: a real first sync learns from the workspace's history).
//! Each member's activity is a log-normal multiplier (σ 0.5, clipped to 0.3–3).
//!
//! **Networks.** Each member country has four broadband ISPs (market shares 35/28/22/15 %),
//! three mobile carriers (40/35/25 %), a business ISP, and the hosting providers of the
//! data-centre hubs; other countries two broadband ISPs, two carriers and a business ISP. Every ISP holds distinct /16s (IPv6:
//! /32s): eight per broadband ISP, three CGNAT pools per carrier, four per business ISP. Half of the broadband ISPs and 60 % of the carriers are
//! dual-stack; a dual-stack sign-in uses IPv6 with probability 0.7 (broadband) or 0.8
//! (mobile).
//! - Home broadband: a stable /24 (and /48) of the member's ISP, geolocated to the home city
//!   (75 %), to the nearest larger city within 150 km (20 %: ISPs register lines at regional
//!   hubs) or to a random city of the country (5 %: database errors). About once every 60
//!   days the line gets a new address (DHCP): a new /24 in the same /16 (80 %) or in another
//!   /16 of the same ISP (20 %), geolocated afresh; the IPv6 prefix changes about every 180
//!   days within the ISP's /32.
//! - Mobile data: carrier-grade NAT. Each mobile sign-in takes a random /24 of one of its
//!   carrier's three /16 pools (or a random /64 of one of its two /32s) and geolocates to a
//!   random city of the country weighted by population: mobile IPs "geolocate all over the
//!   country". Abroad, phones roam with home routing (the usual case in the EU and for most
//!   roaming agreements), so their IPs still geolocate in the home country.
//! - Offices: one /24 per office, geolocated to the office city (85 %) or its regional hub.
//! - Corporate VPN: the egress is four IPs of one /24 geolocated to London. 35 % of members
//!   use it, each for a personal share (30–70 %) of laptop sign-ins outside the office.
//!   Whether the detector trusts it is a parameter of the evaluation, not of the log.
//! - Travel: hotels and venues buy ordinary lines, so a stay's hotel is a new /24 of the
//!   destination country's business ISP (30 %) or of a broadband ISP by market share,
//!   geolocated to the destination (80 %) or elsewhere in the country (20 %); a business
//!   trip also has a venue or client site on such a line; a laptop may tether to the phone.
//!
//! **Devices.** Coarse "Browser on OS" labels, as the server derives them, drawn from a
//! realistic business share: laptops Chrome on Windows 44 %, Edge on Windows 17 %, Chrome
//! on macOS 14 %, Safari on macOS 9 %, Firefox on Windows 5 %, the rest Linux, ChromeOS and
//! Firefox on macOS; phones Safari on iOS 45 %, Chrome on Android 45 %, Chrome on iOS 7 %,
//! Firefox on Android 3 %. Every member has a laptop; 80 % also use the app on a phone.
//! 12 % get a new laptop at a random time whose label differs from the old one (a new
//! machine with the same browser and OS is invisible in the log, so it is not modelled).
//! Each browser keeps the device id the server gave it; 4 % of sign-ins come from a private
//! window or another browser (a new id, never seen again) and 1 % after the browser lost its
//! cookies (a new id that stays). Attackers' browsers have ids of their own.
//!
//! **Sign-ins.** Sessions end after 7 days of inactivity, and people sign out, clear cookies
//! and switch browsers, so a member signs in a few times a week per device. Per device and
//! day, a Poisson number of sign-ins with mean (times the member's activity): laptop 0.5 on
//! workdays and 0.06 on weekends, phone 0.22 on workdays and 0.12 on weekends; on holiday
//! 0.3 times that. Laptop sign-ins fall mostly in working hours (08:00–18:00, 15 % in the
//! evening), phone sign-ins anywhere between 07:00 and 23:00, local time. 3 % of sign-ins
//! follow one to three mistyped passwords a minute or so earlier. 35 % of sessions end with
//! an explicit sign-out later (ignored by the detector, present for a realistic mix).
//!
//! Where a sign-in comes from: a laptop at home uses the VPN (users, their share) or the
//! home line; at the office, the office network; on a trip, the VPN, a hotel (65 %), a
//! venue (20 % on business trips) or the phone's tethering (15 %). A phone at home is on
//! the home wifi (60 %) or mobile data, at the office on the office wifi (50 %) or mobile
//! data, commuting on mobile data, on a trip on hotel or venue wifi (45 %) or mobile data.
//!
//! **Trips.** Per 120 days, 0.8 domestic trips (one to three nights, a city at least 80 km
//! away drawn by population) and 0.5 international ones (40 % holidays of five to twelve
//! nights, otherwise two to five; the destination country by a travel weight, the city by
//! population); 15 % of members are frequent travellers with three times that. Travel time:
//! under 350 km by train at 110 km/h plus 30 minutes; otherwise by air, the great-circle
//! distance at 800 km/h plus two to three hours at airports. Departures between 06:00 and
//! 19:00 local; no sign-ins while in transit.
//!
//! **Account takeovers.** One per 7 members, each on a distinct victim present at least 21
//! days, at a random instant (uniform over the day, independent of the victim) after the
//! victim's learning period and at least 14 days after they joined. The victim's own
//! activity goes on (an attacker does not sign the victim out). The attacker signs in once,
//! then comes back a Poisson number of times (mean 0.6) within three days, from the same
//! network and device. "After the learning period" means the Okta default: five earlier
//! sign-ins spanning five days. Attackers' devices are a desktop browser (85 %) or a phone's
//! (15 %), each label by the members' share, so an attacker's coarse label often coincides
//! with the victim's. Three kinds, 40/30/30 %:
//! - (a) from a country the victim was never seen in: a residential ISP in one of ten
//!   attack-origin countries or a VPS in a data-centre hub (Frankfurt, Amsterdam, Ashburn,
//!   London, Paris, Singapore) outside the victim's countries; any label;
//! - (b) from another city of the victim's country (by population): a residential proxy or
//!   broadband line of another ISP than the victim's home one (80 %), or another carrier
//!   than the victim's (20 %, its address then geolocating anywhere in the country); any
//!   label. (The victim may have met that ISP's ranges in a hotel: so be it.)
//! - (c) from the victim's home city, a broadband line of another ISP than the victim's, on
//!   a label none of the victim's devices has.
//!
//! **Password sprays.** About one burst per 40 days: a script on one VPS address (device
//! "Unknown browser on Unknown OS") tries one password on 30–80 % of the members, one every
//! 3–12 seconds. And one distributed spray, each try from another residential address with
//! a browser's label, spread over six hours (no count rule sees it).
//!
//! # The code
//!
//! By concern, each importing only those before it: `event` (tags and drafts), `tables`
//! (the data), `random` (the draws), `calendar` (time), `network` (ISPs, lines, addresses),
//! `members` (the company and its people), `activity` (a member's own sign-ins), `attacks`
//! (takeovers and sprays), `generate` (the whole log) and [`score`] (a detector against the
//! labels).

mod activity;
mod attacks;
mod calendar;
mod devices;
mod event;
mod generate;
mod members;
mod network;
mod random;
pub mod score;
mod tables;

pub use calendar::start;
pub use event::{Label, Source, Tag};
pub use generate::{Generated, LogConfig, generate};
