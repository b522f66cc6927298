//! Display helpers for pages: human sizes and dates, breadcrumbs, sort links that toggle their
//! order, and the gateway's own URLs. Pure functions of their inputs (the clock is a parameter),
//! so pages render the same in tests as in production.

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::view::{ListParams, SortKey, SortOrder};

/// Characters escaped in a path segment: everything but unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `1536` → `1.5 KiB`; bytes below 1 KiB are exact (`512 B`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A date as people read it in a file list, relative to `now`: `just now`, `5 minutes ago`,
/// `3 hours ago`, `yesterday`, then `18 May 2026` (UTC).
pub fn human_date(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    match secs {
        s if s < 0 => at.format("%-d %b %Y").to_string(),
        0..60 => "just now".into(),
        60..120 => "1 minute ago".into(),
        120..3600 => format!("{} minutes ago", secs / 60),
        3600..7200 => "1 hour ago".into(),
        7200..86_400 => format!("{} hours ago", secs / 3600),
        86_400..172_800 => "yesterday".into(),
        _ => at.format("%-d %b %Y").to_string(),
    }
}

/// The full timestamp for a `title` tooltip: `2026-05-18 19:26 UTC`.
pub fn full_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Escapes one URL path segment.
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// `/w/{workspace}/{folder}`: a folder's browse page.
pub fn folder_href(workspace: &str, folder: &str) -> String {
    format!("/w/{}/{}", segment(workspace), segment(folder))
}

/// `/download/{workspace}/{node}`: a file's download link.
pub fn download_href(workspace: &str, node: &str) -> String {
    format!("/download/{}/{}", segment(workspace), segment(node))
}

/// One step of the breadcrumb trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crumb {
    /// Folder name.
    pub name: String,
    /// Link to it; `None` for the current folder (the last crumb).
    pub href: Option<String>,
}

/// Breadcrumbs from the workspace root down to the current folder. `path` is the chain of
/// `(folder id, name)` from the root's first child to the current folder (empty at the root).
pub fn breadcrumbs(workspace: &str, workspace_name: &str, path: &[(String, String)]) -> Vec<Crumb> {
    let root = std::iter::once(("root".to_owned(), workspace_name.to_owned()));
    let all: Vec<(String, String)> = root.chain(path.iter().cloned()).collect();
    let last = all.len() - 1;
    all.into_iter()
        .enumerate()
        .map(|(i, (id, name))| Crumb {
            name,
            href: (i != last).then(|| folder_href(workspace, &id)),
        })
        .collect()
}

/// The sort in effect on a page, producing the column headers' links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortState {
    /// Current key.
    pub key: SortKey,
    /// Current direction.
    pub order: SortOrder,
    /// Page size to keep in links (omitted when default).
    pub limit: u32,
}

impl SortState {
    /// The sort of validated listing parameters.
    pub fn of(params: &ListParams) -> Self {
        Self {
            key: params.sort,
            order: params.order,
            limit: params.limit,
        }
    }

    /// Query string of a column header: same key toggles the order, another starts at its natural
    /// order. Paging restarts (no cursor).
    pub fn href(&self, key: &SortKey) -> String {
        let order = if *key == self.key {
            self.order.flip()
        } else {
            key.natural_order()
        };
        self.query(*key, order, None)
    }

    /// Query string of the next page.
    pub fn next_href(&self, cursor: &str) -> String {
        self.query(self.key, self.order, Some(cursor))
    }

    /// `aria-sort` value for a column header.
    pub fn aria(&self, key: &SortKey) -> &'static str {
        match (*key == self.key, self.order) {
            (false, _) => "none",
            (true, SortOrder::Asc) => "ascending",
            (true, SortOrder::Desc) => "descending",
        }
    }

    /// An arrow after the active column's label (`↑`/`↓`), empty otherwise.
    pub fn arrow(&self, key: &SortKey) -> &'static str {
        match (*key == self.key, self.order) {
            (false, _) => "",
            (true, SortOrder::Asc) => "↑",
            (true, SortOrder::Desc) => "↓",
        }
    }

    fn query(&self, key: SortKey, order: SortOrder, cursor: Option<&str>) -> String {
        let mut pairs = vec![
            ("sort", key.as_str().to_owned()),
            ("order", order.as_str().to_owned()),
        ];
        if self.limit != super::view::DEFAULT_LIMIT {
            pairs.push(("limit", self.limit.to_string()));
        }
        if let Some(c) = cursor {
            pairs.push(("cursor", c.to_owned()));
        }
        format!(
            "?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10 * 1024 * 1024), "10 MiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }

    #[test]
    fn dates_are_relative_when_recent() {
        let now: DateTime<Utc> = "2026-05-18T12:00:00Z".parse().expect("date");
        let ago = |s: i64| human_date(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(90), "1 minute ago");
        assert_eq!(ago(600), "10 minutes ago");
        assert_eq!(ago(3 * 3600), "3 hours ago");
        assert_eq!(ago(30 * 3600), "yesterday");
        assert_eq!(ago(40 * 86_400), "8 Apr 2026");
        assert_eq!(full_date(now), "2026-05-18 12:00 UTC");
    }

    #[test]
    fn sort_links_toggle_the_active_column_and_keep_the_limit() {
        let s = SortState {
            key: SortKey::Name,
            order: SortOrder::Asc,
            limit: 100,
        };
        assert_eq!(s.href(&SortKey::Name), "?sort=name&order=desc");
        assert_eq!(s.href(&SortKey::Modified), "?sort=modified&order=desc");
        assert_eq!(s.aria(&SortKey::Name), "ascending");
        assert_eq!(s.aria(&SortKey::Type), "none");
        let s = SortState {
            key: SortKey::Name,
            order: SortOrder::Desc,
            limit: 50,
        };
        assert_eq!(s.href(&SortKey::Name), "?sort=name&order=asc&limit=50");
        assert_eq!(
            s.next_href("a b&c"),
            "?sort=name&order=desc&limit=50&cursor=a+b%26c"
        );
    }

    #[test]
    fn breadcrumbs_link_every_step_but_the_last() {
        let path = vec![
            ("f1".to_owned(), "Docs".to_owned()),
            ("f2".to_owned(), "2026".to_owned()),
        ];
        let c = breadcrumbs("ws 1", "Team", &path);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].href.as_deref(), Some("/w/ws%201/root"));
        assert_eq!(c[1].href.as_deref(), Some("/w/ws%201/f1"));
        assert_eq!((c[2].name.as_str(), c[2].href.as_deref()), ("2026", None));
        assert_eq!(breadcrumbs("w", "Team", &[])[0].href, None);
    }
}
