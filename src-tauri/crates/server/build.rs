//! The inspector embeds `ui/dist` (rust-embed). Make sure the folder exists so the engine builds
//! before the UI has been built; it then serves a page that says how to build the UI.
fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../ui/dist");
    let _ = std::fs::create_dir_all(&dist);
    println!("cargo:rerun-if-changed=../../../ui/dist");
}
