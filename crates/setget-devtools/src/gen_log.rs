//! `cargo xtask gen-log`: writes a realistic generated audit log ([`setget_detect::loggen`])
//! to a file as JSON lines, and its labels beside it.

use setget_protocol::EventKind;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use setget_detect::loggen::{LogConfig, generate};

const GEN_USAGE: &str =
    "usage: cargo xtask gen-log [--members N] [--days D] [--seed S] --out FILE [--labels FILE]";

/// `cargo xtask gen-log --members N --days D --seed S --out FILE [--labels FILE]`: writes
/// the log as JSON lines (one audit event a line) and, if asked, the labels beside it
/// (`{"seq":…,"label":"legit","incident":null}` a line).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut cfg = LogConfig::default();
    let mut out = None;
    let mut labels = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{GEN_USAGE}"))?;
        let number = || {
            value
                .parse::<u64>()
                .with_context(|| format!("{flag} takes a whole number, not {value:?}"))
        };
        match flag.as_str() {
            "--members" => cfg.members = usize::try_from(number()?)?,
            "--days" => cfg.days = u32::try_from(number()?)?,
            "--seed" => cfg.seed = number()?,
            "--out" => out = Some(PathBuf::from(value)),
            "--labels" => labels = Some(PathBuf::from(value)),
            other => bail!("unknown option {other:?}\n{GEN_USAGE}"),
        }
    }
    let Some(out) = out else {
        bail!("--out FILE is required\n{GEN_USAGE}");
    };
    if cfg.members == 0 || cfg.days < 7 {
        bail!("a log needs at least one member and seven days");
    }
    let log = generate(&cfg);
    let file =
        std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    for e in &log.events {
        serde_json::to_writer(&mut w, e)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    if let Some(path) = &labels {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        for (e, tag) in log.events.iter().zip(&log.tags) {
            let mut line = String::new();
            let incident = tag.incident.map_or("null".to_owned(), |i| i.to_string());
            let _ = write!(
                line,
                "{{\"seq\":{},\"label\":\"{}\",\"incident\":{incident},\"source\":\"{}\"}}",
                e.seq,
                tag.label.as_str(),
                tag.source.as_str()
            );
            writeln!(w, "{line}")?;
        }
        w.flush()?;
    }
    let sign_ins = log
        .events
        .iter()
        .filter(|e| e.event == EventKind::SignedIn)
        .count();
    println!(
        "wrote {} events ({sign_ins} sign-ins, {} account takeovers, {} password sprays; VPN \
         egress {}) to {}{}",
        log.events.len(),
        log.takeovers,
        log.sprays,
        log.vpn_network,
        out.display(),
        labels
            .map(|l| format!(", labels to {}", l.display()))
            .unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use setget_detect::loggen::{LogConfig, generate};
    use setget_protocol::AuditEvent;

    use super::run;

    #[test]
    fn gen_log_writes_json_lines_and_labels() {
        let dir = std::env::temp_dir().join(format!("setget-gen-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (out, labels) = (dir.join("log.jsonl"), dir.join("labels.jsonl"));
        let args: Vec<String> = ["--members", "20", "--days", "14", "--seed", "3", "--out"]
            .iter()
            .map(|s| s.to_string())
            .chain([out.display().to_string(), "--labels".into()])
            .chain([labels.display().to_string()])
            .collect();
        run(&args).unwrap();
        let events: Vec<AuditEvent> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let expected = generate(&LogConfig {
            members: 20,
            days: 14,
            seed: 3,
        });
        assert_eq!(events, expected.events);
        let labels: Vec<serde_json::Value> = std::fs::read_to_string(&labels)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(labels.len(), events.len());
        assert_eq!(labels[0]["seq"], 1);
        assert!(
            labels
                .iter()
                .all(|l| l["label"].is_string() && l["source"].is_string())
        );
        assert!(run(&["--members".into(), "x".into()]).is_err());
        assert!(run(&[]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
