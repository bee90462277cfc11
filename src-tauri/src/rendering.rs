//! How WebKitGTK draws the window. With a GPU, WebKit's accelerated compositing hands frames
//! to the window through DMA buffers. Without one (a virtual machine, a remote desktop, a
//! headless X server) there is no render node to share buffers through: WebKit then composites
//! with a software OpenGL, and the window drew about 16 frames a second while idle, so a
//! keystroke took two or three of those frames (60 ms each) to reach the screen. Drawing
//! without accelerated compositing on such a machine measured a frame every 5–16 ms and
//! filter-to-rows at a third of the time (`cargo xtask bench ui`).
//!
//! So, when the machine has no GPU render node, the app starts WebKit in its non-composited
//! mode (`WEBKIT_DISABLE_COMPOSITING_MODE`, which WebKit reads in the app's process and the
//! web processes it starts, which inherit the app's environment). Setting WebKit's hardware
//! acceleration policy on the window instead, once it exists, ended the page's web process
//! under WebDriver. A value the user set for that variable, or for
//! `WEBKIT_DISABLE_DMABUF_RENDERER`, is left to WebKit (`WEBKIT_DISABLE_COMPOSITING_MODE=0`
//! keeps compositing on a machine without a GPU). A render node is taken as a GPU worth
//! compositing on, though some virtual GPUs (virtio-gpu without 3D, vgem) expose one with no
//! acceleration behind it: there WebKit keeps its default, and the user's variable decides.

use std::path::Path;

/// WebKit's variable for drawing without accelerated compositing.
const NO_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
/// WebKit's variable for compositing without DMA buffers (a user's choice the app respects).
const NO_DMABUF: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
/// Where the kernel lists the GPUs' render nodes (`renderD128`, …).
const DRI: &str = "/dev/dri";

/// How the window's WebKit draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    /// WebKit's default: a GPU render node is there.
    Default,
    /// The user set WebKit's variables; left to WebKit.
    UsersChoice,
    /// No GPU render node: WebKit draws without accelerated compositing.
    Software,
}

/// Whether `dir` lists a GPU render node.
pub fn has_render_node(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// The choice for a machine with (or without) a render node, given which of the
/// environment's variables are set (`is_set`; their values are WebKit's to read).
pub fn choose(is_set: impl Fn(&str) -> bool, render_node: bool) -> Rendering {
    if is_set(NO_COMPOSITING) || is_set(NO_DMABUF) {
        Rendering::UsersChoice
    } else if render_node {
        Rendering::Default
    } else {
        Rendering::Software
    }
}

/// Chooses for this machine and, when WebKit is to draw in software, sets its variable.
///
/// Call it first thing in `main`, while the process has no other thread: it changes the
/// process's environment.
#[allow(unsafe_code)]
pub fn prepare() -> Rendering {
    let is_set = |name: &str| std::env::var_os(name).is_some();
    let rendering = choose(is_set, has_render_node(Path::new(DRI)));
    if rendering == Rendering::Software {
        // SAFETY: `main` calls this before anything it runs could start a thread, so no other
        // thread reads or writes the environment meanwhile.
        unsafe { std::env::set_var(NO_COMPOSITING, "1") };
    }
    rendering
}

/// GDK's variable for its use of OpenGL.
const GDK_GL: &str = "GDK_GL";
/// Whether [`prepare_app_process`] turned GDK's OpenGL off (not the user).
static GL_OFF_HERE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The app process draws nothing itself (the window is another process's, the tray's icon
/// the panel's to draw), so GDK is kept from loading the OpenGL driver when it opens the
/// display: on a machine without a GPU that driver is Mesa's software one, with LLVM, which
/// held 25 MB of the app process (8 MB of it its own) for as long as it ran. A `GDK_GL` the
/// user set is left alone. The window's process gets the environment as it was
/// ([`restore_for_window`]).
///
/// Call it in `main` while the process has no other thread, as [`prepare`].
#[allow(unsafe_code)]
pub fn prepare_app_process() {
    if std::env::var_os(GDK_GL).is_none() {
        // SAFETY: as in `prepare`: no other thread exists yet to read or write the
        // environment.
        unsafe { std::env::set_var(GDK_GL, "disable") };
        GL_OFF_HERE.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The window's process gets the environment as the user set it: WebKit's compositing
/// reaches the window through GDK's OpenGL, and WebKit loads the driver itself in any case
/// (turning GDK's off there saved nothing when it draws in software).
pub fn restore_for_window(command: &mut std::process::Command) {
    if GL_OFF_HERE.load(std::sync::atomic::Ordering::SeqCst) {
        command.env_remove(GDK_GL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(set: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> bool {
        move |name| set.iter().any(|(n, _)| *n == name)
    }

    #[test]
    fn without_a_render_node_webkit_draws_without_compositing() {
        assert_eq!(choose(env(&[]), false), Rendering::Software);
        assert_eq!(choose(env(&[("OTHER", "1")]), false), Rendering::Software);
    }

    #[test]
    fn with_a_render_node_webkit_keeps_its_default() {
        assert_eq!(choose(env(&[]), true), Rendering::Default);
    }

    #[test]
    fn the_users_own_setting_wins() {
        for set in [
            [(NO_COMPOSITING, "0")],
            [(NO_COMPOSITING, "1")],
            [(NO_DMABUF, "1")],
        ] {
            assert_eq!(choose(env(&set), false), Rendering::UsersChoice);
            assert_eq!(choose(env(&set), true), Rendering::UsersChoice);
        }
    }

    #[test]
    fn a_render_node_is_found_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_render_node(dir.path()));
        assert!(!has_render_node(&dir.path().join("absent")));
        std::fs::write(dir.path().join("card0"), "").unwrap();
        assert!(!has_render_node(dir.path()));
        std::fs::write(dir.path().join("renderD128"), "").unwrap();
        assert!(has_render_node(dir.path()));
    }
}
