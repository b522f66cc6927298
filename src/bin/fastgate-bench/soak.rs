//! The soak (issue 14, not a timed test): for `--soak-secs` (default 600) keep 20 uploads in
//! flight through the gateway (form posts and the JS API in turn, 6–24 MiB each, every one
//! verified by its SHA-256) while 4 clients list a 200-item folder, 20 times a second each. Stored
//! files are deleted and purged as they land, so the emulator's disk stays flat. Reports the
//! gateway's RSS and open file descriptors at the start, every minute and at the end, uploads
//! stored and failed, and the listing's latency percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fastgate::fastio::{ListQuery, NodeType, PageSize};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::clients;
use crate::payload::File;
use crate::procs::{self, Emulator, Gateway};
use crate::scenarios::{Row, direct_client, row};

/// Uploads kept in flight.
const UPLOADERS: usize = 20;
/// Listing clients.
const LISTERS: usize = 4;

/// Open file descriptors of `pid`.
fn open_fds(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(Iterator::count)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// One sample of the gateway's resources.
fn sample(gw: &Gateway, at: Duration) -> Value {
    let pid = gw.proc.pid();
    json!({
        "at_s": at.as_secs(),
        "rss_mib": procs::rss(pid).map(mib),
        "fds": open_fds(pid),
    })
}

/// Runs the soak for `secs` seconds.
pub async fn soak(emu: &Emulator, gw: &Gateway, secs: u64) -> Result<(Vec<Row>, Value), String> {
    let direct = direct_client(emu)?;
    let ws = emu.workspace.clone();
    let folder = direct
        .create_folder(&ws, "root", "soak-listing")
        .await
        .map_err(|e| e.to_string())?
        .id;
    let names: Vec<String> = (0..200).map(|i| format!("item-{i:03}")).collect();
    for batch in names.chunks(20) {
        let made = futures_util::future::join_all(
            batch
                .iter()
                .map(|name| direct.create_folder(&ws, &folder, name)),
        )
        .await;
        for m in made {
            m.map_err(|e| e.to_string())?;
        }
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let samples = Arc::new(Mutex::new(vec![sample(gw, Duration::ZERO)]));
    let stored = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let listing_errors = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    // Names of verified uploads, for the janitor (deleting a file before its upload's own check
    // ran would fail that upload).
    let landed: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
    // A client of its own, dropped before the last sample so its idle connections are closed.
    let http = reqwest::Client::new();

    let uploaders = (0..UPLOADERS).map(|w| {
        let (stored, failed, bytes, failures) = (
            stored.clone(),
            failed.clone(),
            bytes.clone(),
            failures.clone(),
        );
        let (http, ws, landed) = (http.clone(), ws.clone(), landed.clone());
        async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let file = File {
                    seed: (w as u64) << 32 | n,
                    size: (6 + (n % 4) * 6) << 20,
                };
                let sha = file.sha256();
                let name = format!("soak-{w:02}-{n:05}.bin");
                let result = if (w as u64 + n).is_multiple_of(2) {
                    clients::gateway_form(&http, gw, &ws, file, &name, &sha).await
                } else {
                    clients::gateway_api(&http, &gw.url, &ws, file, &name, &sha).await
                };
                match result {
                    Ok(_) => {
                        landed.lock().insert(name);
                        stored.fetch_add(1, Ordering::Relaxed);
                        bytes.fetch_add(file.size, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let mut f = failures.lock();
                        if f.len() < 10 {
                            f.push(format!("{name}: {e}"));
                        }
                    }
                }
            }
        }
    });
    let listers = (0..LISTERS).map(|_| {
        let (latencies, errors, done) = (latencies.clone(), listing_errors.clone(), done.clone());
        let url = format!("{}/api/files/{ws}/{folder}?limit=250", gw.url);
        let http = http.clone();
        async move {
            let mut mine = Vec::new();
            // Paced at 20 listings per second per client: unpaced, four release-build clients
            // spend the emulator's storage rate limit (10,000 a minute) and starve the
            // uploads' checks and the janitor.
            let mut pace = tokio::time::interval(Duration::from_millis(50));
            while !done.load(Ordering::Relaxed) {
                pace.tick().await;
                let t = Instant::now();
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        mine.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies.lock().extend(mine);
        }
    });
    // Deletes and purges what was stored, and samples the gateway every minute.
    let purged = Arc::new(AtomicU64::new(0));
    let janitor_errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let janitor = {
        let (done, samples, landed) = (done.clone(), samples.clone(), landed.clone());
        let (purged, errors) = (purged.clone(), janitor_errors.clone());
        let (direct, ws) = (direct.clone(), ws.clone());
        async move {
            let query = ListQuery {
                page_size: PageSize::P500,
                ..ListQuery::default()
            };
            let mut next_sample = Duration::from_secs(60);
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let note = |e: String| {
                    let mut errors = errors.lock();
                    if errors.len() < 5 {
                        errors.push(e);
                    }
                };
                match direct.list_folder(&ws, "root", &query).await {
                    Ok(page) => {
                        let verified: Vec<_> = page
                            .nodes
                            .iter()
                            .filter(|n| {
                                n.node_type == NodeType::File && landed.lock().remove(&n.name)
                            })
                            .collect();
                        for node in verified {
                            let gone = match direct.delete_node(&ws, &node.id).await {
                                Ok(()) => direct.purge_node(&ws, &node.id).await,
                                Err(e) => Err(e),
                            };
                            match gone {
                                Ok(()) => {
                                    purged.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => note(format!("{}: {e}", node.name)),
                            }
                        }
                    }
                    Err(e) => note(format!("listing root: {e}")),
                }
                if started.elapsed() >= next_sample {
                    samples.lock().push(sample(gw, started.elapsed()));
                    next_sample += Duration::from_secs(60);
                }
            }
        }
    };
    let stop = async {
        futures_util::future::join_all(uploaders).await;
        done.store(true, Ordering::Relaxed);
    };
    tokio::join!(stop, futures_util::future::join_all(listers), janitor);
    // Idle again, every client connection closed: the figures at the end.
    drop(http);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let took = started.elapsed();
    samples.lock().push(sample(gw, took));
    let samples = samples.lock().clone();
    let mut lat = latencies.lock().clone();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if lat.is_empty() {
            f64::NAN
        } else {
            lat[(((lat.len() - 1) as f64) * p).round() as usize]
        }
    };
    let (stored, failed) = (
        stored.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    let first = &samples[0];
    // After the first minute, when the load is on (for runs that long).
    let warm = samples
        .get(1)
        .filter(|_| samples.len() > 2)
        .unwrap_or(first);
    let last = &samples[samples.len() - 1];
    let peak = procs::peak_rss(gw.proc.pid()).map(mib);
    let s = format!(
        "soak {} s: {UPLOADERS} uploads in flight + {LISTERS} listing loops",
        took.as_secs()
    );
    let rows = vec![
        row(
            &s,
            "uploads stored / failed",
            format!(
                "{stored} / {failed} ({:.1} GiB)",
                bytes.load(Ordering::Relaxed) as f64 / (1u64 << 30) as f64
            ),
            "all stored",
        ),
        row(
            &s,
            "gateway RSS idle / at 1 min / end (peak)",
            format!(
                "{:.1} / {:.1} / {:.1} MiB ({:.1})",
                first["rss_mib"].as_f64().unwrap_or(0.0),
                warm["rss_mib"].as_f64().unwrap_or(0.0),
                last["rss_mib"].as_f64().unwrap_or(0.0),
                peak.unwrap_or(0.0)
            ),
            "flat after warm-up",
        ),
        row(
            &s,
            "gateway open fds idle / at 1 min / end",
            format!("{} / {} / {}", first["fds"], warm["fds"], last["fds"]),
            "end = idle",
        ),
        row(
            &s,
            "listing p50 / p99 / max",
            format!(
                "{:.1} / {:.1} / {:.1} ms ({} requests, {} errors)",
                pct(0.5),
                pct(0.99),
                pct(1.0),
                lat.len(),
                listing_errors.load(Ordering::Relaxed)
            ),
            "",
        ),
    ];
    let failures = failures.lock().clone();
    Ok((
        rows,
        json!({"seconds": took.as_secs_f64(), "stored": stored, "failed": failed, "first_failures": failures,
               "purged": purged.load(Ordering::Relaxed), "janitor_errors": janitor_errors.lock().clone(),
               "bytes": bytes.load(Ordering::Relaxed), "samples": samples, "peak_rss_mib": peak,
               "listing": {"requests": lat.len(), "errors": listing_errors.load(Ordering::Relaxed), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0)}}),
    ))
}
