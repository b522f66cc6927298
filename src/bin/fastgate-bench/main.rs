//! `fastgate-bench`: the by-hand benchmark of DESIGN §7. Starts the emulator and the gateway as
//! separate processes (the real `fastgate` binary) on loopback, runs the five scenarios, prints a
//! table and writes every figure as JSON.
//!
//!   cargo build --release && cargo run --release --bin fastgate-bench [-- --mib 1024 --out FILE]
//!
//! Scenarios: (1) a 1 GiB form and JS-API upload through the gateway vs the same bytes straight
//! to the emulator, with the gateway's peak RSS; (2) the same with 100 ms upstream latency, the
//! JS-API pipeline vs one 4 MiB chunk at a time with 2 s status polls; (3) `GET /api/files` of a
//! 1,000-item folder vs the direct call; (4) 50 concurrent 20 MiB uploads; (5) miniserve with
//! its hash check as a peer anchor for the emulator's ingest (reported failed when not
//! installed); (6) 2,000 files of 16 KiB in one form post and through the JS API, at +0 and
//! +100 ms upstream latency, against the official CLI's strategy and the best the contract
//! allows; (7) the big file downloaded through `/download` vs straight from the emulator;
//! (8) the emulator's chunked ingest alone; (9) the browser's JS path against its form path in
//! headless Chromium (needs Debian's `chromium` and `chromium-driver`); `soak` (only when named
//! in `--only`): `--soak-secs` (600) of 20 uploads in flight plus listing load, with the
//! gateway's RSS and open fds at start and end.
//! `--only 1,8` picks scenarios; 1, 3, 4, 6 and 8 need nothing but this build (7 needs `curl`).
//!
//! Every measurement reports, per process (client, gateway, emulator), wall time, user+system
//! CPU seconds and peak RSS ([`usage`]), and the floors of the same run: one SHA-256 pass over
//! the same bytes and `curl` into a discard sink. `--bin-dir DIR` (or
//! `$FASTGATE_BENCH_BIN_DIR`) runs the `fastgate` binary in DIR, a private copy that other builds
//! into a shared target directory cannot replace mid-run. The first row describes the machine
//! ([`machine`]: the CPU, whether it is a VM, how its idle vCPUs wait), which moves every
//! figure.

mod browser;
mod clients;
mod download;
mod ingest;
mod machine;
mod payload;
mod peer;
mod procs;
mod relay;
mod scenarios;
mod smallfiles;
mod soak;
mod usage;

use std::process::ExitCode;

use serde_json::{Value, json};

use payload::File;
use scenarios::{Ctx, Row};

/// A scratch directory (`$BENCH_DIR` or the system temp dir), removed at the end.
struct WorkDir(std::path::PathBuf);

impl WorkDir {
    fn create() -> Result<Self, String> {
        let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
        let path = base.join(format!("fastgate-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Args {
    mib: u64,
    out: std::path::PathBuf,
    only: Option<String>,
    bin_dir: Option<std::path::PathBuf>,
    files: usize,
    soak_secs: u64,
}

fn args() -> Result<Args, String> {
    let mut parsed = Args {
        mib: 1024,
        out: "bench-results/latest.json".into(),
        only: None,
        bin_dir: std::env::var_os("FASTGATE_BENCH_BIN_DIR").map(Into::into),
        files: 2000,
        soak_secs: 600,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--mib" => parsed.mib = value()?.parse().map_err(|_| "--mib takes a number")?,
            "--out" => parsed.out = value()?.into(),
            "--only" => parsed.only = Some(value()?),
            "--bin-dir" => parsed.bin_dir = Some(value()?.into()),
            "--files" => parsed.files = value()?.parse().map_err(|_| "--files takes a number")?,
            "--soak-secs" => {
                parsed.soak_secs = value()?.parse().map_err(|_| "--soak-secs takes a number")?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: fastgate-bench [--mib N] [--files N] [--out FILE] [--bin-dir DIR] [--only 1,2,3,4,5,6,7,8,9,soak] [--soak-secs 600]".into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

fn print_table(rows: &[Row]) {
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
                .max(6)
        })
        .collect();
    let line = |cells: [&str; 4]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(["scenario", "measure", "result", "target"]);
    let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    println!("|-{}-|", dashes.join("-|-"));
    for r in rows {
        line([&r[0], &r[1], &r[2], &r[3]]);
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fastgate-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    // The bench starts itself as scenario 7's bare relay (`relay.rs`).
    if let [_, mode, upstream] = &std::env::args().collect::<Vec<_>>()[..]
        && mode == "relay"
    {
        let upstream = upstream.clone();
        return tokio::task::spawn_blocking(move || relay::serve(&upstream))
            .await
            .map_err(|e| e.to_string())?;
    }
    let args = args()?;
    // The soak runs only when asked for by name: it takes ten minutes.
    let wants = |n: &str| match &args.only {
        Some(o) => o.split(',').any(|x| x == n),
        None => n != "soak",
    };
    let bin = procs::fastgate_binary(args.bin_dir.as_deref())?;
    let dir = WorkDir::create()?;
    let big = File {
        seed: 1,
        size: args.mib << 20,
    };
    eprintln!("hashing the {} MiB test file…", args.mib);
    eprintln!("floors: one SHA-256 pass, curl into a discard sink, a loopback relay…");
    let machine = machine::Machine::read();
    let floors = usage::Floors::measure(big, dir.path()).await;
    let ctx = Ctx {
        floors,
        bin,
        dir: dir.path().to_owned(),
        http: reqwest::Client::builder()
            // Below the gateway's 10 s header timeout, which also closes idle keep-alive
            // connections: a connection is never reused just as the gateway closes it.
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?,
        big_sha: big.sha256(),
        big,
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut results = serde_json::Map::new();
    let mut failed: Vec<String> = Vec::new();
    let mut record = |name: &str, outcome: Result<(Vec<Row>, Value), String>| match outcome {
        Ok((r, v)) => {
            rows.extend(r);
            results.insert(name.to_owned(), v);
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            failed.push(name.to_owned());
            rows.push([
                name.to_owned(),
                "failed".into(),
                e.chars().take(80).collect(),
                String::new(),
            ]);
            results.insert(name.to_owned(), json!({"error": e}));
        }
    };
    {
        let emu = procs::emulator(&ctx.bin, &ctx.dir, 0)?;
        let gw = procs::gateway(&ctx.bin, &ctx.dir, &emu)?;
        if wants("1") {
            eprintln!("1: throughput…");
            record("throughput", scenarios::throughput(&ctx, &emu, &gw).await);
        }
        if wants("3") {
            eprintln!("3: listing…");
            record("listing", scenarios::listing(&ctx, &emu, &gw).await);
        }
        if wants("4") {
            eprintln!("4: concurrent…");
            record("concurrent", scenarios::concurrent(&ctx, &emu, &gw).await);
        }
        if wants("5") {
            eprintln!("5: peer anchor…");
            match peer::anchor(&ctx, &emu).await {
                Ok(Some(found)) => record("peer_anchor", Ok(found)),
                Ok(None) => record("peer_anchor", Err("miniserve is not installed".into())),
                Err(e) => record("peer_anchor", Err(e)),
            }
        }
        if wants("6") {
            eprintln!("6: small files, +0 ms…");
            record(
                "small_files_0ms",
                smallfiles::small_files(&ctx, 0, args.files).await,
            );
        }
        if wants("7") {
            eprintln!("7: download…");
            record("download", download::download(&ctx, &emu, &gw).await);
        }
        if wants("8") {
            eprintln!("8: emulator ingest…");
            record("emulator_ingest", ingest::ingest(&ctx, &emu).await);
        }
        if wants("9") {
            eprintln!("9: browser paths…");
            let outcome = match procs::gateway_at(&ctx.bin, &ctx.dir, &emu, None) {
                Ok(own) => browser::paths(&ctx, &emu, &own).await,
                Err(e) => Err(e),
            };
            record("browser_paths", outcome);
        }
    }
    if wants("soak") {
        eprintln!("soak: {} s…", args.soak_secs);
        let emu = procs::emulator(&ctx.bin, &ctx.dir, 0)?;
        let gw = procs::gateway(&ctx.bin, &ctx.dir, &emu)?;
        record("soak", soak::soak(&emu, &gw, args.soak_secs).await);
    }
    if wants("2") {
        eprintln!("2: 100 ms latency…");
        let emu = procs::emulator(&ctx.bin, &ctx.dir, 100)?;
        let gw = procs::gateway(&ctx.bin, &ctx.dir, &emu)?;
        record("latency_100ms", scenarios::latency(&ctx, &emu, &gw).await);
    }
    if wants("6") {
        eprintln!("6: small files, +100 ms…");
        record(
            "small_files_100ms",
            smallfiles::small_files(&ctx, 100, args.files).await,
        );
    }
    let f = &ctx.floors;
    let mut floor_rows = vec![scenarios::row(
        "machine",
        "CPU, and how idle vCPUs wait",
        machine.describe(),
        "",
    )];
    let reported_mib = machine.reported_mib_since();
    if let Some(mib) = reported_mib {
        floor_rows.push(scenarios::row(
            "machine",
            "freed memory handed back to the host during the run",
            format!("{mib} MiB (faulted in again by later page-cache writes)"),
            "",
        ));
    }
    floor_rows.push(scenarios::row(
        "floors (same run)",
        "one SHA-256 pass (sha2, one thread, bytes in cache)",
        format!("{:.2} s CPU per GiB", f.sha256_s_per_gib),
        "",
    ));
    if let Some(o) = f.openssl_s_per_gib {
        floor_rows.push(scenarios::row(
            "floors (same run)",
            "openssl dgst -sha256",
            format!("{o:.2} s CPU per GiB"),
            "",
        ));
    }
    if let Some((cpu, mbs)) = f.curl {
        floor_rows.push(scenarios::row(
            "floors (same run)",
            "curl -T into a discard sink",
            format!("{mbs:.0} MB/s, curl {cpu:.2} s CPU per GiB"),
            "",
        ));
    }
    if let Some(relay) = f.relay_s_per_gib {
        floor_rows.push(scenarios::row(
            "floors (same run)",
            "loopback relay: receive + send, 64 KiB reads",
            format!(
                "{relay:.2} s CPU per GiB; + one SHA-256 pass = {:.2} s = {:.2}× SHA-256",
                relay + f.sha256_s_per_gib,
                (relay + f.sha256_s_per_gib) / f.sha256_s_per_gib
            ),
            "",
        ));
    }
    floor_rows.extend(rows);
    let rows = floor_rows;
    print_table(&rows);
    let report = json!({
        "file_mib": args.mib,
        "cpus": usage::cores(),
        "floors": ctx.floors.json(),
        "machine": machine.json(reported_mib),
        "load_average": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "results": results,
    });
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, text).map_err(|e| e.to_string())?;
    eprintln!("wrote {}", args.out.display());
    match failed.as_slice() {
        [] => Ok(()),
        names => Err(format!("failed: {}", names.join(", "))),
    }
}
