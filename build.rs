//! Code layout of the release binary. `generate` runs about 1,000 of the
//! binary's functions, and the compiler scatters them across 19 MB of code
//! (generic instances are placed by symbol name), so the kernel maps 9 MB of
//! it, 64 KB at a fault, to run 3 MB. `link-order.txt` lists those functions
//! (written by `benches/link-order.sh` from a callgrind run of the shipped
//! binary), and the linker (LLD, the default on x86_64 Linux) places them
//! together. A stale or missing list changes only where code sits, never
//! what it does: names the binary no longer has are skipped.
//!
//! `ASSAY_LINK_MAP=FILE` also writes the linker's map (mangled names), from
//! which the script reads which function each address belongs to.

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=link-order.txt");
    println!("cargo::rerun-if-env-changed=ASSAY_LINK_MAP");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    // The names are the x86_64 build's; another target has its own.
    let x86_64 = std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    if !(release && x86_64) {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let order = Path::new(&dir).join("link-order.txt");
    if order.is_file() {
        println!(
            "cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo::rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    if let Ok(map) = std::env::var("ASSAY_LINK_MAP") {
        println!("cargo::rustc-link-arg-bins=-Wl,-Map={map},--no-demangle");
    }
}
