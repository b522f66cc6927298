//! Set-up shortcuts that talk to the emulator through the gateway's own Fast.io client (never
//! through the gateway's routes), so tests of the web layer start from a known folder tree fast.

use std::time::Duration;

use bytes::Bytes;
use fastgate::fastio::UploadTarget;

use super::Gateway;

impl Gateway {
    /// Stores `body` as `name` in `folder` (`root` allowed; ≤ 4 MiB) and returns its node id.
    pub async fn put_file(&self, folder: &str, name: &str, body: &[u8]) -> String {
        let target = UploadTarget {
            workspace: self.workspace.clone(),
            folder: folder.into(),
        };
        let fastio = &self.state.fastio;
        let up = fastio
            .upload_single(&target, name, Bytes::copy_from_slice(body))
            .await
            .expect("single-call upload");
        match up.new_file_id {
            Some(id) => id,
            None => fastio
                .wait_until_stored(&up.upload_id, Duration::from_secs(10))
                .await
                .expect("stored")
                .new_file_id
                .expect("node id"),
        }
    }

    /// Creates folder `name` in `parent` and returns its id.
    pub async fn put_folder(&self, parent: &str, name: &str) -> String {
        self.state
            .fastio
            .create_folder(&self.workspace, parent, name)
            .await
            .expect("create folder")
            .id
    }
}
