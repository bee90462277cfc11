//! The app's processes, read from `/proc`: for the window tests and `bench ui`, which look at
//! the app and the WebKit processes it started (their memory, their environment).

use std::path::Path;

/// One running process.
#[derive(Debug, Clone)]
pub struct Process {
    pub pid: u32,
    pub parent: u32,
    /// The command name (`WebKitWebProces`: the kernel keeps 15 characters).
    pub name: String,
}

/// Every process.
pub fn all() -> Vec<Process> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces, so split after the ')'.
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let parent = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some(Process { pid, parent, name })
        })
        .collect()
}

/// The value of `name` in the environment process `pid` started with, if set.
pub fn environ_of(pid: u32, name: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|b| *b == 0).find_map(|entry| {
        let entry = String::from_utf8_lossy(entry);
        let (k, v) = entry.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The process running `app` (with `home` as its HOME, when given, to tell one profile's app
/// from another's) and every process under it: the window's process (the same binary,
/// `setget-admin --window`) and the WebKit web and network processes that one starts.
pub fn app_and_children(app: &Path, home: Option<&Path>) -> Option<(u32, Vec<Process>)> {
    let all = all();
    let runs_app = |pid: u32| {
        std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == app)
            && home.is_none_or(|home| environ_of(pid, "HOME").as_deref() == home.to_str())
    };
    // The app's own process is the one not started by another of the app's.
    let app_pid = all
        .iter()
        .find(|p| runs_app(p.pid) && !runs_app(p.parent))?
        .pid;
    Some((app_pid, children_in(all, app_pid)))
}

/// The window's process among the app's `children` (the same binary, started by the app
/// process `app_pid` as `setget-admin --window`), if the window is open.
pub fn window_process(app_pid: u32, children: &[Process]) -> Option<&Process> {
    children
        .iter()
        .find(|c| c.parent == app_pid && c.name == "setget-admin")
}

/// Every process under `pid`: those it started, those they started, and so on.
pub fn children_of(pid: u32) -> Vec<Process> {
    children_in(all(), pid)
}

fn children_in(all: Vec<Process>, pid: u32) -> Vec<Process> {
    let mut found: Vec<Process> = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for p in all.iter().filter(|p| p.parent == parent) {
            parents.push(p.pid);
            found.push(p.clone());
        }
    }
    found
}

/// What a process holds in memory, from `/proc/PID/smaps_rollup`, in KiB. `rss` counts every
/// page it maps, shared library pages included, so the RSS of several processes overcounts
/// what they hold together; `pss` divides each shared page among the processes that map it,
/// so the PSS of several processes adds up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss: u64,
    pub pss: u64,
    /// The PSS of its anonymous pages (heaps, stacks): what is its own rather than mapped
    /// from files.
    pub pss_anon: u64,
    /// The PSS of its pages swapped out.
    pub swap_pss: u64,
}

impl Memory {
    /// The memory of process `pid`, `None` when it is gone (or not ours to read).
    pub fn of(pid: u32) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?)
    }

    /// Reads an `smaps_rollup` text; `None` when it lacks the RSS or the PSS.
    pub fn parse(text: &str) -> Option<Self> {
        let field = |name: &str| {
            text.lines().find_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix(':')?;
                rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
            })
        };
        Some(Self {
            rss: field("Rss")?,
            pss: field("Pss")?,
            pss_anon: field("Pss_Anon").unwrap_or(0),
            swap_pss: field("SwapPss").unwrap_or(0),
        })
    }
}

/// Where a process's memory is, from `/proc/PID/smaps`: each mapping's name (a file's path,
/// `[heap]`, `[stack]`, or `[unnamed]` for anonymous mappings without one, such as the
/// allocator's arenas and thread stacks) with its PSS and its anonymous pages, in KiB, summed
/// over the mappings of that name and sorted by PSS, largest first.
pub fn mappings(pid: u32) -> Option<Vec<(String, u64, u64)>> {
    Some(parse_mappings(
        &std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?,
    ))
}

/// Reads an `smaps` text for [`mappings`].
pub fn parse_mappings(text: &str) -> Vec<(String, u64, u64)> {
    let mut by_name: std::collections::HashMap<String, (u64, u64)> = Default::default();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // "start-end perms offset dev inode [name]": the name may hold spaces.
            let name = line
                .split_whitespace()
                .skip(5)
                .collect::<Vec<_>>()
                .join(" ");
            current = Some(if name.is_empty() {
                "[unnamed]".to_owned()
            } else {
                name
            });
            continue;
        }
        let (Some(name), Some(kib)) = (
            current.as_ref(),
            words.next().and_then(|v| v.parse::<u64>().ok()),
        ) else {
            continue;
        };
        let entry = by_name.entry(name.clone()).or_default();
        match first {
            "Pss:" => entry.0 += kib,
            "Anonymous:" => entry.1 += kib,
            _ => {}
        }
    }
    let mut out: Vec<(String, u64, u64)> = by_name
        .into_iter()
        .map(|(name, (pss, anon))| (name, pss, anon))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

impl std::ops::Add for Memory {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            rss: self.rss + other.rss,
            pss: self.pss + other.pss,
            pss_anon: self.pss_anon + other.pss_anon,
            swap_pss: self.swap_pss + other.swap_pss,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's format, fields in its order (Pss_Anon before Pss_File, SwapPss last).
    #[test]
    fn smaps_rollup_is_read_field_by_field() {
        let text = "55d0c0000000-7ffd8e1f1000 ---p 00000000 00:00 0                  [rollup]
Rss:              229884 kB
Pss:              178878 kB
Pss_Dirty:        120004 kB
Pss_Anon:         118000 kB
Pss_File:          60870 kB
Pss_Shmem:             8 kB
Shared_Clean:      60000 kB
Swap:                 12 kB
SwapPss:               9 kB
Locked:                0 kB
";
        let m = Memory::parse(text).unwrap();
        assert_eq!(
            m,
            Memory {
                rss: 229_884,
                pss: 178_878,
                pss_anon: 118_000,
                swap_pss: 9
            }
        );
        assert_eq!((m + m).pss, 357_756);
        assert_eq!(Memory::parse("Rss: 12 kB\n"), None);
        assert_eq!(Memory::parse(""), None);
    }

    /// Mappings are summed by name, the unnamed together, largest PSS first.
    #[test]
    fn smaps_mappings_are_summed_by_name() {
        let text = "7f0000000000-7f0004000000 rw-p 00000000 00:00 0 
Size:              65536 kB
Rss:                8000 kB
Pss:                8000 kB
Anonymous:          8000 kB
55d0c0000000-55d0c1000000 rw-p 00000000 00:00 0                          [heap]
Pss:                3000 kB
Anonymous:          3000 kB
7f1000000000-7f1000100000 r-xp 00000000 08:01 1234                       /usr/lib/libwebkit2gtk-4.1.so.0
Pss:                5000 kB
Anonymous:             0 kB
7f2000000000-7f2000010000 rw-p 00000000 00:00 0 
Pss:                1000 kB
Anonymous:          1000 kB
7f3000000000-7f3000010000 r--p 00000000 08:01 99                         /tmp/a file (deleted)
Pss:                  10 kB
Anonymous:             0 kB
";
        assert_eq!(
            parse_mappings(text),
            [
                ("[unnamed]".to_owned(), 9000, 9000),
                ("/usr/lib/libwebkit2gtk-4.1.so.0".to_owned(), 5000, 0),
                ("[heap]".to_owned(), 3000, 3000),
                ("/tmp/a file (deleted)".to_owned(), 10, 0),
            ]
        );
    }

    /// This test's own process: its PSS is at most its RSS, and both are more than nothing.
    #[test]
    fn a_running_process_has_a_memory_and_a_gone_one_none() {
        let m = Memory::of(std::process::id()).unwrap();
        assert!(m.rss > 0 && m.pss > 0 && m.pss <= m.rss, "{m:?}");
        assert_eq!(Memory::of(u32::MAX), None);
    }
}
