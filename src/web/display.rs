//! Display helpers for pages: breadcrumbs, sort links that toggle their order, and the gateway's
//! own URLs. Pure functions of their inputs, so pages render the same in tests as in production.
//! Sizes and dates are in the leaf module [`super::format`].

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::view::{ListParams, SortKey, SortOrder};

/// Characters escaped in a path segment: everything but unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

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

/// `/w/{workspace}/f/{node}`: a file's page (details, versions, preview).
pub fn file_href(workspace: &str, node: &str) -> String {
    format!("/w/{}/f/{}", segment(workspace), segment(node))
}

/// `/preview/{workspace}/{node}`: a file's bytes for looking at (see [`super::preview`]).
pub fn preview_href(workspace: &str, node: &str) -> String {
    format!("/preview/{}/{}", segment(workspace), segment(node))
}

/// `/thumb/{workspace}/{node}`: an image's thumbnail.
pub fn thumb_href(workspace: &str, node: &str) -> String {
    format!("/thumb/{}/{}", segment(workspace), segment(node))
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

/// Image types that have thumbnails (made by Fast.io at upload time).
const THUMBNAILED: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Whether a file of type `mime` gets a thumbnail: the listing then shows `/thumb`, and
/// `/thumb` answers 404 for anything else.
pub fn has_thumbnail(mime: Option<&str>) -> bool {
    mime.is_some_and(|m| THUMBNAILED.iter().any(|t| m.eq_ignore_ascii_case(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
