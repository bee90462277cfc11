//! Reads `tauri.conf.json` in this crate's folder: a link to the one at the workspace root,
//! so that cargo and the bundler read the same file and resolve its paths from here.

fn main() {
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new()) {
        println!("cargo::error=tauri build step failed: {e:#}");
    }
}
