//! A short-lived cache of folder and workspace display names, so a listing does not ask Fast.io
//! for the listed folder's name on every page (the JSON API and the browse pages show it).
//!
//! Names only: the listing itself always comes from Fast.io, so a deleted folder still answers
//! 404 at once; a renamed folder may show its old name for at most [`TTL`]. The map is bounded
//! ([`CAPACITY`] entries); when full, expired entries go first, then everything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a name is reused.
pub const TTL: Duration = Duration::from_secs(5);

/// The most names kept.
pub const CAPACITY: usize = 1024;

/// Name and when it was seen, by `(workspace, folder id)`.
type Names = HashMap<(String, String), (String, Instant)>;

/// Display names by `(workspace, folder id)`; the root (`root`) holds the workspace's name.
/// Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct NameCache {
    inner: Arc<Mutex<Names>>,
}

impl NameCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The name of `folder` in `ws`, when seen less than [`TTL`] ago.
    pub fn get(&self, ws: &str, folder: &str) -> Option<String> {
        let map = self.inner.lock().ok()?;
        let (name, at) = map.get(&(ws.to_owned(), folder.to_owned()))?;
        (at.elapsed() < TTL).then(|| name.clone())
    }

    /// Remembers the name of `folder` in `ws`.
    pub fn put(&self, ws: &str, folder: &str, name: &str) {
        let Ok(mut map) = self.inner.lock() else {
            return;
        };
        if map.len() >= CAPACITY {
            map.retain(|_, (_, at)| at.elapsed() < TTL);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(
            (ws.to_owned(), folder.to_owned()),
            (name.to_owned(), Instant::now()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_reused_per_workspace_and_folder() {
        let cache = NameCache::new();
        assert_eq!(cache.get("ws", "f"), None);
        cache.put("ws", "f", "Docs");
        assert_eq!(cache.get("ws", "f").as_deref(), Some("Docs"));
        assert_eq!(cache.get("other", "f"), None);
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let cache = NameCache::new();
        for i in 0..CAPACITY * 2 {
            cache.put("ws", &i.to_string(), "n");
        }
        let len = cache.inner.lock().expect("lock").len();
        assert!(len <= CAPACITY, "{len}");
    }
}
