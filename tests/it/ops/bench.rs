//! The benchmark harness (`fastgate-bench`) runs on a fresh machine: its scenarios reach the
//! gateway and the emulator it starts, on a payload small enough for every test run.

use std::process::Command;

use serde_json::Value;

#[tokio::test]
async fn the_bench_harness_runs_the_upload_download_and_ingest_scenarios_on_a_tiny_payload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bench.json");
    let args = ["--mib", "4", "--only", "1,7,8"];
    let ran = tokio::task::spawn_blocking({
        let (out, scratch) = (out.clone(), dir.path().to_owned());
        move || {
            // Nothing of this shell's configuration (FASTGATE_*, a `.env` in the work tree)
            // reaches the processes the harness starts.
            Command::new(env!("CARGO_BIN_EXE_fastgate-bench"))
                .args(args)
                .arg("--out")
                .arg(&out)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("BENCH_DIR", &scratch)
                .current_dir(&scratch)
                .output()
                .expect("fastgate-bench runs")
        }
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{stdout}\n{stderr}");
    for measure in [
        "gateway form action",
        "gateway JS API",
        "gateway vs direct throughput",
        "emulator ingest",
    ] {
        assert!(stdout.contains(measure), "no {measure:?} row in:\n{stdout}");
    }
    assert!(!stdout.contains("| failed"), "{stdout}\n{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("report written"))
            .expect("report is JSON");
    assert_eq!(report["file_mib"], 4);
    let throughput = &report["results"]["throughput"];
    assert!(throughput.get("error").is_none(), "{throughput}");
    assert_eq!(throughput["bytes"], 4 << 20);
    for key in ["direct_stream_s", "form_s", "direct_chunked_s", "api_s"] {
        assert!(
            throughput[key].as_f64().is_some_and(|s| s > 0.0),
            "{key} in {throughput}"
        );
    }
    for key in ["form_peak_rss", "api_peak_rss"] {
        assert!(
            throughput[key].as_u64().is_some_and(|b| b > 1 << 20),
            "{key} in {throughput}"
        );
    }
    // The download is read three ways (direct, through the gateway, through a bare relay) in
    // five interleaved rounds.
    let download = &report["results"]["download"];
    assert!(download.get("error").is_none(), "{download}");
    assert_eq!(download["bytes"], 4 << 20);
    assert_eq!(download["rounds"], 5);
    for way in ["direct", "gateway", "relay"] {
        let walls = download[way]["walls_s"].as_array().expect("walls");
        assert_eq!(walls.len(), 5, "{download}");
        assert!(walls.iter().all(|w| w.as_f64().is_some_and(|s| s > 0.0)));
    }
    for ratio in ["ratio", "relay_ratio"] {
        assert!(
            download[ratio].as_f64().is_some_and(|r| r > 0.0),
            "{ratio} in {download}"
        );
    }
    let ingest = &report["results"]["emulator_ingest"];
    assert!(ingest.get("error").is_none(), "{ingest}");
    assert_eq!(ingest["bytes"], 4 << 20);
    assert!(
        ingest["stored_s"].as_f64() >= ingest["ingest_s"].as_f64(),
        "{ingest}"
    );
    assert_eq!(
        report["results"].as_object().map(|r| r.len()),
        Some(3),
        "only the scenarios asked for ran: {report}"
    );
}

#[tokio::test]
async fn the_soak_scenario_runs_for_a_few_seconds_and_reports_uploads_memory_fds_and_latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("soak.json");
    let ran = tokio::task::spawn_blocking({
        let (out, scratch) = (out.clone(), dir.path().to_owned());
        move || {
            Command::new(env!("CARGO_BIN_EXE_fastgate-bench"))
                .args(["--mib", "4", "--only", "soak", "--soak-secs", "3", "--out"])
                .arg(&out)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("BENCH_DIR", &scratch)
                .current_dir(&scratch)
                .output()
                .expect("fastgate-bench runs")
        }
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{stdout}\n{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("report written"))
            .expect("report is JSON");
    let soak = &report["results"]["soak"];
    assert!(soak.get("error").is_none(), "{soak}");
    // Every uploader finishes the upload it has started: at least one each.
    assert!(soak["stored"].as_u64().is_some_and(|n| n >= 20), "{soak}");
    assert_eq!(soak["failed"], 0, "{soak}");
    assert!(
        soak["listing"]["requests"].as_u64().is_some_and(|n| n > 0),
        "{soak}"
    );
    assert!(
        soak["listing"]["p99_ms"]
            .as_f64()
            .is_some_and(|ms| ms > 0.0),
        "{soak}"
    );
    let samples = soak["samples"].as_array().expect("samples");
    assert!(samples.len() >= 2, "{soak}");
    for s in samples {
        assert!(s["rss_mib"].as_f64().is_some_and(|m| m > 1.0), "{s}");
        assert!(s["fds"].as_u64().is_some_and(|n| n > 2), "{s}");
    }
}
