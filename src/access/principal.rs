//! Who is asking: the [`Principal`] a request carries once authenticated, and the one check
//! every route goes through.

use super::role::{ALL_WORKSPACES, Capability, Grant, Role, role_in};

/// An authenticated caller and its effective grants (already capped for tokens).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// What kind of caller this is.
    pub kind: PrincipalKind,
    /// Effective grants.
    pub grants: Vec<Grant>,
}

/// The kinds of caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A signed-in user (session cookie).
    User {
        /// User id.
        id: i64,
        /// Username.
        username: String,
    },
    /// An API token (`Authorization: Bearer fgt_…`), acting for its owner.
    Token {
        /// Token id.
        id: i64,
        /// The token's name.
        name: String,
        /// Owner's user id.
        owner_id: i64,
        /// Owner's username.
        owner: String,
    },
    /// A visitor of an upload-request link: may upload into one folder, nothing else.
    Link {
        /// Link id.
        id: i64,
        /// The link's workspace.
        workspace: String,
        /// The link's folder.
        folder: String,
    },
    /// A user named by the authenticating reverse proxy (`FASTGATE_AUTH=proxy`).
    Proxy {
        /// The header's value.
        username: String,
    },
    /// `FASTGATE_AUTH=open`: anyone, with today's powers (editor everywhere, no admin).
    Open,
}

/// Why a check refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No grant at all on that workspace: answer 404, as if it did not exist (no probing).
    #[error("not found")]
    NotFound,
    /// A grant, but its role is too low: answer 403.
    #[error("forbidden")]
    Forbidden,
}

impl Principal {
    /// The open-mode caller.
    pub fn open() -> Self {
        Self {
            kind: PrincipalKind::Open,
            grants: vec![Grant {
                workspace: ALL_WORKSPACES.into(),
                role: Role::Editor,
            }],
        }
    }

    /// The highest role on `workspace`, if any.
    pub fn role_in(&self, workspace: &str) -> Option<Role> {
        role_in(&self.grants, workspace)
    }

    /// May this caller do `capability` on `workspace`? The one check every route makes.
    pub fn check(&self, workspace: &str, capability: Capability) -> Result<Role, Refusal> {
        let role = self.role_in(workspace).ok_or(Refusal::NotFound)?;
        let link_may =
            !matches!(self.kind, PrincipalKind::Link { .. }) || capability == Capability::Upload;
        if role.allows(capability) && link_may {
            Ok(role)
        } else {
            Err(Refusal::Forbidden)
        }
    }

    /// A capability not tied to one workspace (users, audit, every link): needs it on `*`.
    pub fn check_global(&self, capability: Capability) -> Result<Role, Refusal> {
        match self.role_in_all() {
            Some(role) if role.allows(capability) && self.is_person() => Ok(role),
            _ => Err(Refusal::Forbidden),
        }
    }

    /// Is this an admin of every workspace?
    pub fn is_admin(&self) -> bool {
        self.check_global(Capability::Admin).is_ok()
    }

    /// The role granted on `*` (every workspace), if any.
    fn role_in_all(&self) -> Option<Role> {
        self.grants
            .iter()
            .filter(|g| g.workspace == ALL_WORKSPACES)
            .map(|g| g.role)
            .max()
    }

    /// Users, tokens and proxy users act for a person; links and open mode do not.
    fn is_person(&self) -> bool {
        !matches!(self.kind, PrincipalKind::Link { .. } | PrincipalKind::Open)
    }

    /// The user id the caller acts for (users and tokens), for the account page.
    pub fn user_id(&self) -> Option<i64> {
        match &self.kind {
            PrincipalKind::User { id, .. } => Some(*id),
            PrincipalKind::Token { owner_id, .. } => Some(*owner_id),
            _ => None,
        }
    }

    /// The person's name, if any: a username, a token's owner, a proxy user.
    pub fn username(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::User { username, .. } | PrincipalKind::Proxy { username } => {
                Some(username)
            }
            PrincipalKind::Token { owner, .. } => Some(owner),
            PrincipalKind::Link { .. } | PrincipalKind::Open => None,
        }
    }

    /// How the audit log names this caller.
    pub fn actor(&self) -> super::Actor {
        use super::ActorKind;
        let (kind, name) = match &self.kind {
            PrincipalKind::User { username, .. } => (ActorKind::User, Some(username.clone())),
            PrincipalKind::Token { name, owner, .. } => {
                (ActorKind::Token, Some(format!("{name}@{owner}")))
            }
            PrincipalKind::Link { id, .. } => (ActorKind::Link, Some(id.to_string())),
            PrincipalKind::Proxy { username } => (ActorKind::Proxy, Some(username.clone())),
            PrincipalKind::Open => (ActorKind::Anonymous, None),
        };
        super::Actor { kind, name }
    }
}
