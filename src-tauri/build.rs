//! Reads the one `tauri.conf.json` at the workspace root.

fn main() {
    if let Err(e) =
        tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
    {
        println!("cargo::error=tauri build step failed: {e:#}");
    }
}
