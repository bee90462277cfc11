//! `cargo xtask bench detect`: the detector on a realistic generated log (see
//! [`setget_detect::loggen`], which also scores it) with the published Okta defaults ([`DetectorConfig::okta_defaults`])
//! and with the tuned rules ([`DetectorConfig::default`]), each with the corporate VPN's
//! egress untrusted and trusted: how many account takeovers each flags at medium or high,
//! how many legitimate sign-ins it alerts on at medium or high, and the ratio of the two
//! configurations, all measured in the same run. Then the same over ten other seeds (how much
//! the figures move from one log to another), each tuned rule reverted to the Okta default
//! in turn (what it buys), and the detector's throughput over a generated log of 1,000,000
//! events.

use setget_protocol::EventKind;
use std::collections::BTreeMap;
use std::time::Instant;

use setget_detect::loggen::score::{
    Figures, KINDS, TARGET_LEGIT_RATE, TARGET_RATIO, TARGET_RECALL, evaluate, with_vpn,
};
use setget_detect::loggen::{self, Generated, Label, LogConfig};
use setget_detect::{Detector, DetectorConfig};

use crate::harness::verdict;

/// The 95 % Wilson interval of a proportion, in percent.
fn wilson(hits: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 100.0);
    }
    let (n, p, z) = (n as f64, hits as f64 / n as f64, 1.96_f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    (
        100.0 * (centre - half).max(0.0),
        100.0 * (centre + half).min(1.0),
    )
}

fn pct(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// The fixed log of the benchmark, and the seeds of the robustness pass.
const ROBUSTNESS_SEEDS: std::ops::RangeInclusive<u64> = 1..=10;

/// `cargo xtask bench detect`. The throughput needs an optimised build: a debug build runs
/// the release one.
pub fn detect() -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        return crate::harness::in_release("detect");
    }
    let cfg = LogConfig::default();
    let started = Instant::now();
    let log = loggen::generate(&cfg);
    println!(
        "bench detect: a generated log of {} members over {} days (seed {}), {} events, \
         generated in {:.2} s",
        cfg.members,
        cfg.days,
        cfg.seed,
        log.events.len(),
        started.elapsed().as_secs_f64()
    );
    println!("  {}", mix(&log));
    let mut all_met = true;
    for trusted in [false, true] {
        let okta = evaluate(
            &log,
            with_vpn(DetectorConfig::okta_defaults(), &log, trusted),
        );
        let tuned = evaluate(&log, with_vpn(DetectorConfig::default(), &log, trusted));
        println!();
        println!(
            "corporate VPN egress ({}) {}:",
            log.vpn_network,
            if trusted {
                "a trusted network"
            } else {
                "not trusted"
            }
        );
        all_met &= report(&okta, &tuned);
    }
    robustness();
    ablation();
    throughput(&log, cfg.members)?;
    println!();
    println!(
        "targets on the benchmark's log (both VPN settings): {}",
        verdict(all_met)
    );
    Ok(())
}

/// Where the legitimate sign-ins come from, in shares.
fn mix(log: &Generated) -> String {
    let mut sources: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut total, mut phones, mut v6) = (0, 0, 0);
    for (e, t) in log.events.iter().zip(&log.tags) {
        if e.event != EventKind::SignedIn || t.label != Label::Legit {
            continue;
        }
        total += 1;
        *sources.entry(t.source.as_str()).or_default() += 1;
        let device = e.device.as_deref().unwrap_or_default();
        phones += usize::from(device.ends_with(" on iOS") || device.ends_with(" on Android"));
        v6 += usize::from(e.ip.as_deref().is_some_and(|ip| ip.contains(':')));
    }
    let mut sources: Vec<(&str, usize)> = sources.into_iter().collect();
    sources.sort_by_key(|s| std::cmp::Reverse(s.1));
    let parts: Vec<String> = sources
        .iter()
        .map(|(s, n)| format!("{s} {:.1} %", pct(*n, total)))
        .collect();
    format!(
        "legitimate sign-ins by network: {}; from phones {:.0} %, over IPv6 {:.0} %",
        parts.join(", "),
        pct(phones, total),
        pct(v6, total)
    )
}

/// Prints both configurations side by side; returns whether the tuned one meets the targets.
fn report(okta: &Figures, tuned: &Figures) -> bool {
    let row = |name: &str, a: String, b: String| println!("  {name:<44} {a:<26} {b}");
    row("", "Okta defaults".into(), "tuned (default)".into());
    row(
        "sign-ins (legitimate)",
        format!("{} ({})", okta.sign_ins, okta.legit_sign_ins),
        format!("{} ({})", tuned.sign_ins, tuned.legit_sign_ins),
    );
    let recall = |f: &Figures| {
        let (hits, n) = (f.flagged.iter().sum(), f.takeovers.iter().sum());
        let (lo, hi) = wilson(hits, n);
        format!("{hits}/{n} {:.1} % [{lo:.0}–{hi:.0}]", pct(hits, n))
    };
    row(
        "account takeovers flagged at medium/high",
        recall(okta),
        recall(tuned),
    );
    for (k, (_, name)) in KINDS.iter().enumerate() {
        let of = |f: &Figures| format!("{}/{}", f.flagged[k], f.takeovers[k]);
        row(&format!("  {name}"), of(okta), of(tuned));
    }
    let legit = |f: &Figures| format!("{} ({:.2} %)", f.legit_alerted, 100.0 * f.legit_rate());
    row(
        "legitimate sign-ins alerted at medium/high",
        legit(okta),
        legit(tuned),
    );
    let sev = |f: &Figures| {
        format!(
            "{} / {} / {}",
            f.by_severity[2], f.by_severity[1], f.by_severity[0]
        )
    };
    row("all alerts high / medium / low", sev(okta), sev(tuned));
    let sprays = |f: &Figures| format!("{}/{}", f.sprays_flagged, f.sprays);
    row("password sprays flagged", sprays(okta), sprays(tuned));
    row(
        "alerts on members' own mistyped passwords",
        okta.legit_failure_alerts.to_string(),
        tuned.legit_failure_alerts.to_string(),
    );
    let ratio = tuned.legit_alerted as f64 / okta.legit_alerted.max(1) as f64;
    println!(
        "  tuned / Okta legitimate medium/high alerts: {ratio:.3} (target <= {TARGET_RATIO}: {})",
        verdict(ratio <= TARGET_RATIO)
    );
    println!(
        "  tuned: recall {:.1} % (target >= {:.0} %: {}), legitimate alerted {:.2} % (target \
         <= {:.1} %: {})",
        100.0 * tuned.recall(),
        100.0 * TARGET_RECALL,
        verdict(tuned.recall() >= TARGET_RECALL),
        100.0 * tuned.legit_rate(),
        100.0 * TARGET_LEGIT_RATE,
        verdict(tuned.legit_rate() <= TARGET_LEGIT_RATE)
    );
    for (name, f) in [("Okta defaults", okta), ("tuned", tuned)] {
        let mut top: Vec<(&String, &usize)> = f.legit_reasons.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let reasons: Vec<String> = top
            .iter()
            .take(5)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let mut sources: Vec<(&&str, &usize)> = f.legit_sources.iter().collect();
        sources.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let sources: Vec<String> = sources.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!("  {name}, legitimate medium/high alerts:");
        println!("    by reasons: {}", reasons.join(", "));
        println!("    by network: {}", sources.join(", "));
    }
    tuned.recall() >= TARGET_RECALL
        && tuned.legit_rate() <= TARGET_LEGIT_RATE
        && ratio <= TARGET_RATIO
}

/// The logs of the robustness pass and the ablation (same size as the benchmark's).
fn other_logs() -> Vec<Generated> {
    ROBUSTNESS_SEEDS
        .map(|seed| {
            loggen::generate(&LogConfig {
                seed,
                ..LogConfig::default()
            })
        })
        .collect()
}

/// Mean, least and greatest of some values.
fn spread(values: &[f64]) -> String {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{mean:.2} [{min:.2}–{max:.2}]")
}

/// The figures over ten other seeds: how much they move from one log to another.
fn robustness() {
    let logs = other_logs();
    println!();
    println!(
        "over {} other seeds ({}–{}), mean [least–greatest]:",
        logs.len(),
        ROBUSTNESS_SEEDS.start(),
        ROBUSTNESS_SEEDS.end()
    );
    for trusted in [false, true] {
        let (mut okta_rate, mut tuned_rate, mut recall, mut ratio) =
            (vec![], vec![], vec![], vec![]);
        let mut met = 0;
        for log in &logs {
            let okta = evaluate(log, with_vpn(DetectorConfig::okta_defaults(), log, trusted));
            let tuned = evaluate(log, with_vpn(DetectorConfig::default(), log, trusted));
            let r = tuned.legit_alerted as f64 / okta.legit_alerted.max(1) as f64;
            met += usize::from(
                tuned.recall() >= TARGET_RECALL
                    && tuned.legit_rate() <= TARGET_LEGIT_RATE
                    && r <= TARGET_RATIO,
            );
            okta_rate.push(100.0 * okta.legit_rate());
            tuned_rate.push(100.0 * tuned.legit_rate());
            recall.push(100.0 * tuned.recall());
            ratio.push(r);
        }
        println!(
            "  VPN {:<11} legitimate alerted, Okta {} %, tuned {} %; tuned recall {} %; \
             ratio {}; all targets met on {met}/{}",
            if trusted { "trusted:" } else { "untrusted:" },
            spread(&okta_rate),
            spread(&tuned_rate),
            spread(&recall),
            spread(&ratio),
            logs.len()
        );
    }
}

/// The tuned rules with one of them reverted to the Okta default.
pub fn ablations() -> Vec<(&'static str, DetectorConfig)> {
    let okta = DetectorConfig::okta_defaults();
    let tuned = DetectorConfig::default;
    vec![
        ("Okta defaults", okta.clone()),
        ("tuned (default)", tuned()),
        (
            "  without carrier networks",
            DetectorConfig {
                carrier_prefix: okta.carrier_prefix,
                ..tuned()
            },
        ),
        (
            "  a new city alone is medium",
            DetectorConfig {
                new_city_alone_is_medium: true,
                ..tuned()
            },
        ),
        (
            "  travel from any network",
            DetectorConfig {
                travel_needs_new_network: false,
                ..tuned()
            },
        ),
        (
            "  phones do not roam",
            DetectorConfig {
                roaming_os: Vec::new(),
                ..tuned()
            },
        ),
        (
            "  no city radius",
            DetectorConfig {
                city_radius_km: okta.city_radius_km,
                ..tuned()
            },
        ),
        (
            "  no workspace networks",
            DetectorConfig {
                shared_network_members: None,
                ..tuned()
            },
        ),
        (
            "  no hosting reason",
            DetectorConfig {
                hosting_is_a_reason: false,
                ..tuned()
            },
        ),
        (
            "  no known devices",
            DetectorConfig {
                known_devices: false,
                ..tuned()
            },
        ),
        (
            "  + networks by autonomous system",
            DetectorConfig {
                networks_by_system: true,
                ..tuned()
            },
        ),
    ]
}

/// Each tuned rule reverted in turn, over the same ten logs: what it buys.
fn ablation() {
    let logs = other_logs();
    println!();
    println!(
        "each tuned rule reverted to the Okta default, mean over the same {} logs:",
        logs.len()
    );
    println!(
        "  {:<32} {:>14} {:>14} {:>8}",
        "legitimate alerted, VPN:", "untrusted", "trusted", "recall"
    );
    for (name, config) in ablations() {
        let (mut untrusted, mut trusted, mut recall) = (0.0, 0.0, 0.0);
        for log in &logs {
            let u = evaluate(log, with_vpn(config.clone(), log, false));
            let t = evaluate(log, with_vpn(config.clone(), log, true));
            untrusted += u.legit_rate();
            trusted += t.legit_rate();
            recall += u.recall();
        }
        let n = logs.len() as f64;
        println!(
            "  {name:<32} {:>12.2} % {:>12.2} % {:>6.1} %",
            100.0 * untrusted / n,
            100.0 * trusted / n,
            100.0 * recall / n
        );
    }
}

/// How many events the throughput log holds.
const THROUGHPUT_EVENTS: usize = 1_000_000;

/// Generates a log of 1,000,000 events (as many members as that takes, same model), then
/// times `observe` over all of it with each configuration.
fn throughput(base: &Generated, base_members: usize) -> anyhow::Result<()> {
    let per_member = base.events.len() as f64 / base_members.max(1) as f64;
    let members = (THROUGHPUT_EVENTS as f64 * 1.05 / per_member.max(1.0)).ceil() as usize;
    let started = Instant::now();
    let mut log = loggen::generate(&LogConfig {
        members,
        ..LogConfig::default()
    });
    if log.events.len() < THROUGHPUT_EVENTS {
        anyhow::bail!(
            "the throughput log has {} events, fewer than {THROUGHPUT_EVENTS}",
            log.events.len()
        );
    }
    log.events.truncate(THROUGHPUT_EVENTS);
    log.tags.truncate(THROUGHPUT_EVENTS);
    println!();
    println!(
        "throughput: {THROUGHPUT_EVENTS} events of {members} members (generated in {:.1} s), \
         `observe` on each in turn:",
        started.elapsed().as_secs_f64()
    );
    for (name, config) in [
        ("Okta defaults", DetectorConfig::okta_defaults()),
        ("tuned (default)", DetectorConfig::default()),
    ] {
        let mut detector = Detector::new(config);
        let started = Instant::now();
        let mut alerts = 0usize;
        for e in &log.events {
            alerts += usize::from(detector.observe(e).is_some());
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "  {name:<16} {:>10.0} events/s ({seconds:.2} s, {alerts} alerts)",
            THROUGHPUT_EVENTS as f64 / seconds
        );
    }
    replay(&log)
}

/// Times the release `setget-admin detect --replay` over the same log written as JSON lines:
/// reading, parsing, judging and printing, as an admin would run it.
fn replay(log: &Generated) -> anyhow::Result<()> {
    use std::io::Write as _;
    crate::bench_sync::build_release_apps()?;
    let dir = std::env::temp_dir().join(format!("setget-bench-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("log.jsonl");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for e in &log.events {
            serde_json::to_writer(&mut out, e)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    let bytes = std::fs::metadata(&file)?.len();
    let started = Instant::now();
    let output = std::process::Command::new(crate::target_dir().join("release/setget-admin"))
        .args(["detect", "--replay"])
        .arg(&file)
        .output()?;
    let seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    if !output.status.success() {
        anyhow::bail!(
            "detect --replay failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let alerts = output.stdout.iter().filter(|b| **b == b'\n').count();
    println!(
        "  `setget-admin detect --replay` on it ({:.0} MB of JSON lines): {:.0} events/s \
         ({seconds:.2} s, {alerts} alert lines)",
        bytes as f64 / 1e6,
        log.events.len() as f64 / seconds
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wilson_interval_brackets_the_proportion() {
        let (lo, hi) = wilson(45, 50);
        assert!(lo < 90.0 && 90.0 < hi, "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 100.0));
    }
}
