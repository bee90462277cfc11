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
/// from another's) and the processes it started (WebKit's web and network processes).
pub fn app_and_children(app: &Path, home: Option<&Path>) -> Option<(u32, Vec<Process>)> {
    let all = all();
    let app_pid = all.iter().map(|p| p.pid).find(|pid| {
        std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == app)
            && home.is_none_or(|home| environ_of(*pid, "HOME").as_deref() == home.to_str())
    })?;
    let children = all.into_iter().filter(|p| p.parent == app_pid).collect();
    Some((app_pid, children))
}
