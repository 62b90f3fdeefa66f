//! `kill -9` of the hook between the verdict commit and the proposals.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{promoted_with_two_next, proposals, source_commit};
use crate::promote::{Env, stderr, wait};

/// Why not a failpoint: killing the real binary at a random moment tests
/// every point of the real sequence (status writes, fetches, pushes, the
/// kernel's view of a half-sent pack), not only the points someone thought
/// to mark. A first run is not killed: it measures how long the hook takes
/// from the verdict commit appearing on dev's main to its exit, on this
/// machine. Each of the 30 runs after it is killed at a moment drawn
/// uniformly from that span, so kills land before, between and after the
/// proposals however fast the machine is. The delay picks the moment; it
/// synchronises nothing (every check afterwards reads the repos).
#[test]
fn kill_9_between_the_verdict_and_the_proposals_converges_to_one_proposal_each() {
    const RUNS: u64 = 30;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill -9 test seed {seed}");
    let mut rng = seed | 1;
    let mut killed_early = 0;
    // Runs by proposals present when killed: none, one, both; and runs that
    // had already exited.
    let mut landed = [0u32; 3];
    let mut exited = 0;
    // The verdict-to-exit span, measured by run 0 (not killed).
    let mut span: Option<Duration> = None;
    for run in 0..=RUNS {
        let (dev, staging, qa, id) = promoted_with_two_next();
        let seeded = dev.env.repo.head("main");
        let child = dev
            .command(&[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // xorshift: a delay in 0..300 ms after the verdict is on main.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = span.map(|s| Duration::from_micros(rng % s.as_micros().max(1) as u64));
        let (child, took) = kill_after_verdict(child, &dev.env, &seeded, delay);
        if span.is_none() {
            eprintln!("kill -9: the hook takes {took:?} from the verdict commit to its exit");
            span = Some(took);
            continue;
        }
        let verdict = dev.env.verdict_commits(&id);
        assert_eq!(verdict.len(), 1, "run {run}");
        let on_dev: Vec<String> = dev.env.repo.log("main").into_iter().map(|c| c.0).collect();
        let mut partial = 0;
        for next in [&staging.env, &qa.env] {
            let sent = proposals(next, &id);
            assert!(sent.len() <= 1, "run {run}: {sent:?}");
            for (_, _, body) in &sent {
                // Never a proposal without the verdict on dev's main.
                assert!(on_dev.contains(&source_commit(body)), "run {run}");
            }
            partial += sent.len();
        }
        if child && partial < 2 {
            killed_early += 1;
        }
        landed[partial] += 1;
        exited += u32::from(!child);
        let out = dev.run(&[]);
        assert!(out.status.success(), "run {run}: {}", stderr(&out));
        assert_eq!(dev.env.verdict_commits(&id).len(), 1, "run {run}");
        for next in [&staging.env, &qa.env] {
            let sent = proposals(next, &id);
            assert_eq!(sent.len(), 1, "run {run}: {sent:?}");
            assert_eq!(source_commit(&sent[0].2), verdict[0].0, "run {run}");
        }
        let st = dev.status();
        assert_eq!(st["phase"], "Completed", "run {run}: {st}");
        assert_eq!(st["next"][0]["outcome"], "Proposed", "run {run}: {st}");
        assert_eq!(st["next"][1]["outcome"], "Proposed", "run {run}: {st}");
    }
    eprintln!(
        "kill -9: {RUNS} runs; proposals present at the kill: none {}, one {}, both {}; hook already exited {exited}",
        landed[0], landed[1], landed[2]
    );
    // The kills did land inside the window at least sometimes.
    assert!(killed_early > 0, "no run was killed before both proposals");
}

/// Waits (polling, with a deadline) for a commit on dev's main after
/// `seeded` carrying a verdict, then `delay`, then SIGKILL; without a delay,
/// waits for the hook to exit. Returns whether the hook was still running
/// when killed, and the time from the verdict to the kill or exit.
fn kill_after_verdict(
    mut child: Child,
    env: &Env,
    seeded: &str,
    delay: Option<Duration>,
) -> (bool, Duration) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let head = env.repo.head("main");
        if head != seeded && env.repo.log("main")[0].2.contains("Assay-Verdict: promote") {
            break;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let out = wait(child, Duration::from_secs(1));
            panic!("the hook ended without a verdict commit: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let seen = Instant::now();
    let Some(delay) = delay else {
        let out = wait(child, Duration::from_secs(60));
        assert!(out.status.success(), "{}", stderr(&out));
        return (false, seen.elapsed());
    };
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    // SIGKILL: no handler runs, nothing is flushed.
    let _ = child.kill();
    let _ = child.wait();
    (running, seen.elapsed())
}
