//! Roles, capabilities and grants: the vocabulary of "who may do what".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role; each includes the ones before it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Browse, list, download.
    Viewer,
    /// + upload, new folder.
    Uploader,
    /// + share links, upload-request links, rename/move/delete.
    Editor,
    /// + users, every link and token, the audit log.
    Admin,
}

/// One thing a route does; every route names the capability it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Browse pages, JSON listings, downloads.
    View,
    /// Upload files (form, JSON upload API).
    Upload,
    /// Create folders.
    Mkdir,
    /// Create Fast.io share links.
    Share,
    /// Create, list and revoke upload-request links.
    ManageLinks,
    /// Rename, move, delete (the file-management routes).
    Edit,
    /// Users, every token and link, the audit log.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Self::Viewer, Self::Uploader, Self::Editor, Self::Admin];

    /// Does this role include `capability`?
    pub fn allows(self, capability: Capability) -> bool {
        self >= capability.minimum_role()
    }

    /// The lower-case name (`viewer`…), as stored and as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Uploader => "uploader",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }
}

impl Capability {
    /// The lowest role that has this capability.
    pub fn minimum_role(self) -> Role {
        match self {
            Self::View => Role::Viewer,
            Self::Upload | Self::Mkdir => Role::Uploader,
            Self::Share | Self::ManageLinks | Self::Edit => Role::Editor,
            Self::Admin => Role::Admin,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `viewer`, `uploader`, `editor`, `admin`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown role “{0}” (expected viewer, uploader, editor or admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// The workspace wildcard of a grant.
pub const ALL_WORKSPACES: &str = "*";

/// A role on one workspace id, or on every exposed workspace (`*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grant {
    /// A workspace id or `*`.
    pub workspace: String,
    /// The role there.
    pub role: Role,
}

impl Grant {
    /// Does this grant cover `workspace`?
    pub fn covers(&self, workspace: &str) -> bool {
        self.workspace == ALL_WORKSPACES || self.workspace == workspace
    }
}

/// The highest role the grants give on `workspace`, if any (grants only ever add).
pub fn role_in(grants: &[Grant], workspace: &str) -> Option<Role> {
    grants
        .iter()
        .filter(|g| g.covers(workspace))
        .map(|g| g.role)
        .max()
}

/// A workspace id as accepted in grants: `*`, or ASCII letters, digits and `-`.
pub fn valid_workspace(workspace: &str) -> bool {
    workspace == ALL_WORKSPACES
        || (!workspace.is_empty()
            && workspace.len() <= 64
            && workspace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-'))
}
