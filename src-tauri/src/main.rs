//! The `shipwatch-desktop` binary: see the `shipwatch_desktop` library.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    std::process::exit(shipwatch_desktop::run());
}
