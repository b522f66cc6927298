//! Memory stays bounded (DESIGN §4, §7): a form upload far larger than the in-flight budget
//! streams through, and the bytes held at once (counted by the budget) never exceed it.

use std::time::Duration;

use crate::common::forms::*;
use crate::common::payload::{MIB, bytes};
use crate::common::spawn_app_with;
use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use sha2::{Digest, Sha256};

const TOTAL_MIB: usize = 200;

#[tokio::test(flavor = "multi_thread")]
async fn a_200_mib_form_upload_never_holds_more_than_the_budget() {
    let gw = spawn_app_with(
        &[
            ("FASTGATE_INFLIGHT_BUDGET", "16MiB"),
            ("FASTGATE_CHUNK_SIZE", "4MiB"),
        ],
        |_| {},
    )
    .await;
    let block = Bytes::from(bytes(MIB, 42));
    let mut expected = Sha256::new();
    for _ in 0..TOTAL_MIB {
        expected.update(&block);
    }
    let expected = hex::encode(expected.finalize());
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(
        (0..TOTAL_MIB).map(move |_| Ok::<Bytes, std::io::Error>(block.clone())),
    ));
    let total = (TOTAL_MIB * MIB) as u64;
    let form = Form::new()
        .text("workspace", gw.workspace.clone())
        .text("folder", "root")
        .part(
            "file",
            Part::stream_with_length(body, total).file_name("big.bin"),
        );
    let r = post_form(&gw, "/upload", form, true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let outcome = &files_of(&r.json())[0];
    assert_eq!(outcome["size"].as_u64(), Some(total));
    assert_eq!(outcome["sha256"].as_str(), Some(expected.as_str()));

    let budget = &gw.state.budget;
    assert_eq!(budget.capacity(), 16 * MIB as u64);
    assert!(budget.peak() > 0, "the upload was counted");
    assert!(
        budget.peak() <= budget.capacity(),
        "peak {} over the budget",
        budget.peak()
    );
    assert_eq!(budget.in_use(), 0, "every byte released");
    wait_until_no_sessions(&gw, Duration::from_secs(5)).await;
}
