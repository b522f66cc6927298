//! Scenario 8, the emulator's ingest alone: the big file as a chunked session, 8 MiB chunks,
//! 3 in flight, spoken as raw HTTP (no hash sent, so only the emulator hashes), timed to the
//! last chunk and to `stored` (which includes the assembly's re-hash).

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::clients::verify_stored;
use crate::procs::{self, Emulator};
use crate::scenarios::{Ctx, Row, direct_client, mb_s, row};

/// Bytes per chunk.
const CHUNK: u64 = 8 << 20;

/// Runs the scenario against `emu`.
pub async fn ingest(ctx: &Ctx, emu: &Emulator) -> Result<(Vec<Row>, Value), String> {
    let client = direct_client(emu)?;
    let target = fastgate::fastio::UploadTarget {
        workspace: emu.workspace.clone(),
        folder: "root".into(),
    };
    let size = ctx.big.size;
    let id = client
        .create_chunked_upload(&target, "ingest.bin", size, None)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(3));
    let mut tasks = Vec::new();
    for order in 1..=size.div_ceil(CHUNK) {
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let body = ctx.big.range((order - 1) * CHUNK, CHUNK as usize);
        let len = body.len() as u64;
        let url = format!(
            "{}/upload/{id}/chunk/?order={order}&size={len}",
            emu.base_url
        );
        let part = Part::stream_with_length(reqwest::Body::from(body), len).file_name("chunk.bin");
        let request = ctx
            .http
            .post(url)
            .bearer_auth(procs::KEY)
            .multipart(Form::new().part("chunk", part));
        tasks.push(tokio::spawn(async move {
            let sent = request.send().await;
            drop(permit);
            match sent {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("chunk {order}: HTTP {}", r.status())),
                Err(e) => Err(format!("chunk {order}: {e}")),
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    let ingested = started.elapsed();
    client
        .complete_upload(&id)
        .await
        .map_err(|e| e.to_string())?;
    let session = client
        .wait_until_stored(&id, Duration::from_secs(600))
        .await
        .map_err(|e| e.to_string())?;
    let stored = started.elapsed();
    verify_stored(&client, &emu.workspace, session, &ctx.big_sha).await?;
    let s = "emulator ingest";
    let rows = vec![
        row(
            s,
            "emulator ingest, chunked 8 MiB × 3",
            format!("{:.0} MB/s", mb_s(size, ingested)),
            "",
        ),
        row(
            s,
            "until stored (incl. assembly re-hash)",
            format!("{:.0} MB/s", mb_s(size, stored)),
            "",
        ),
    ];
    Ok((
        rows,
        json!({"bytes": size, "ingest_s": ingested.as_secs_f64(), "stored_s": stored.as_secs_f64()}),
    ))
}
