//! Prints README's table of both of the judge's mistakes and its speed: 1,000 seeded
//! experiments per scenario through the real criteria (no servers).
//!
//!     cargo run --release --example simulate [RUNS] [SEED]

fn main() {
    let mut args = std::env::args().skip(1);
    let runs = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(42);
    print!("{}", assay::judge::simulate::table(runs, seed));
}
