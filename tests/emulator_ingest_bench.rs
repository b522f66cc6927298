//! A by-hand throughput measurement, not a timed test: 1 GiB through the chunked upload path,
//! 8 MiB chunks, 3 in flight, over loopback. Run it in a release build:
//! `cargo test --release --test emulator_ingest_bench -- --ignored --nocapture`
//! (`EMULATOR_BENCH_MIB` changes the size).

mod emulator_support;

use std::time::Instant;

use emulator_support::*;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run by hand in release"]
async fn measure_chunked_ingest_throughput() {
    let mib: usize = std::env::var("EMULATOR_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let chunk = 8 * MIB;
    let total = mib * MIB;
    let t = spawn().await;
    let block = bytes::Bytes::from(data(chunk, 42));
    let id = t.create_session("bench.bin", total, "root").await;
    let chunks = total.div_ceil(chunk);
    let started = Instant::now();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(3));
    let mut tasks = Vec::new();
    for order in 1..=chunks {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let len = chunk.min(total - (order - 1) * chunk);
        let body = block.slice(..len);
        let (http, url) = (
            t.http.clone(),
            t.url(&format!("/upload/{id}/chunk/?order={order}&size={len}")),
        );
        tasks.push(tokio::spawn(async move {
            let part = Part::stream_with_length(reqwest::Body::from(body), len as u64)
                .file_name("chunk.bin");
            let res = http
                .post(url)
                .bearer_auth(KEY)
                .multipart(Form::new().part("chunk", part))
                .send()
                .await
                .expect("send");
            drop(permit);
            res.status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("join"), StatusCode::OK);
    }
    let ingest = started.elapsed();
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let session = t.wait_terminal(&id).await;
    let stored = started.elapsed();
    assert_eq!(session["status"], "stored");
    let mb = total as f64 / 1_000_000.0;
    println!(
        "ingest {mib} MiB: {:.2} s = {:.0} MB/s; until stored (incl. assembly re-hash): {:.2} s = {:.0} MB/s",
        ingest.as_secs_f64(),
        mb / ingest.as_secs_f64(),
        stored.as_secs_f64(),
        mb / stored.as_secs_f64()
    );
}
