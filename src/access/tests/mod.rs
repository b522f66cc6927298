//! Access tests on both databases (see `db::tests` for the PostgreSQL rule). Time is a manual
//! clock, so expiry and throttle windows are exact and instant.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use secrecy::SecretString;

use super::*;
use crate::db::tests::{TestDb, both};

mod ask;
mod audit;
mod links;
mod sessions;
mod setup;
mod tokens;
mod users;

/// Somewhere in 2027.
const T0: i64 = 1_800_000_000_000;
const MIN: Duration = Duration::from_secs(60);

/// One test's world: a database that can be opened as several replicas sharing one clock.
struct World {
    db: TestDb,
    clock: Clock,
}

impl World {
    fn new(db: TestDb) -> Self {
        Self {
            db,
            clock: Clock::manual(T0),
        }
    }

    /// A replica: its own `Db` handle (own connection/pool) on the same database.
    async fn replica(&self) -> Access {
        Access::with_clock(
            self.db.open().await,
            Settings::default(),
            self.clock.clone(),
        )
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn ip(n: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)))
}

fn ctx() -> Ctx {
    Ctx::anonymous(ip(1), Some("req-1".into()))
}

/// Adds `name` with password `name-password` and `role` on `workspace` (None: `*`).
async fn add(access: &Access, name: &str, role: Role, workspace: Option<&str>) -> User {
    access
        .add_user(
            &Ctx::system(),
            NewUser {
                username: name.into(),
                password: secret(&format!("{name}-password")),
                role,
                workspace: workspace.map(Into::into),
            },
        )
        .await
        .expect("add user")
}

async fn sign_in(access: &Access, name: &str) -> (NewSession, Principal) {
    access
        .sign_in(&ctx(), name, &format!("{name}-password"), Some("test"))
        .await
        .expect("sign in")
}

#[test]
fn roles_are_ordered_and_each_includes_the_previous() {
    use Capability::*;
    assert!(
        Role::Viewer < Role::Uploader
            && Role::Uploader < Role::Editor
            && Role::Editor < Role::Admin
    );
    let table = [
        (Role::Viewer, vec![View]),
        (Role::Uploader, vec![View, Upload, Mkdir]),
        (
            Role::Editor,
            vec![View, Upload, Mkdir, Share, ManageLinks, Edit],
        ),
        (
            Role::Admin,
            vec![View, Upload, Mkdir, Share, ManageLinks, Edit, Admin],
        ),
    ];
    let all = [View, Upload, Mkdir, Share, ManageLinks, Edit, Admin];
    for (role, allowed) in table {
        for cap in all {
            assert_eq!(role.allows(cap), allowed.contains(&cap), "{role} {cap:?}");
        }
    }
    assert_eq!("Editor".parse::<Role>().ok(), Some(Role::Editor));
    assert!("owner".parse::<Role>().is_err());
}

#[test]
fn no_grant_is_not_found_and_a_low_role_is_forbidden() {
    let p = Principal {
        kind: PrincipalKind::Proxy {
            username: "p".into(),
        },
        grants: vec![
            Grant {
                workspace: "ws1".into(),
                role: Role::Viewer,
            },
            Grant {
                workspace: "ws2".into(),
                role: Role::Editor,
            },
        ],
    };
    assert_eq!(p.check("ws1", Capability::View), Ok(Role::Viewer));
    assert_eq!(p.check("ws1", Capability::Upload), Err(Refusal::Forbidden));
    assert_eq!(p.check("ws2", Capability::Share), Ok(Role::Editor));
    assert_eq!(p.check("ws3", Capability::View), Err(Refusal::NotFound));
    assert_eq!(p.check_global(Capability::Admin), Err(Refusal::Forbidden));

    let star = Principal {
        kind: PrincipalKind::Proxy {
            username: "s".into(),
        },
        grants: vec![
            Grant {
                workspace: "*".into(),
                role: Role::Viewer,
            },
            Grant {
                workspace: "ws1".into(),
                role: Role::Editor,
            },
        ],
    };
    assert_eq!(star.role_in("anything"), Some(Role::Viewer));
    assert_eq!(
        star.role_in("ws1"),
        Some(Role::Editor),
        "the higher grant wins"
    );
    assert!(!star.is_admin());

    let open = Principal::open();
    assert_eq!(open.check("any", Capability::Share), Ok(Role::Editor));
    assert_eq!(
        open.check_global(Capability::Admin),
        Err(Refusal::Forbidden)
    );
}

#[test]
fn a_link_visitor_may_only_upload_in_its_workspace() {
    let p = Principal {
        kind: PrincipalKind::Link {
            id: 1,
            workspace: "ws1".into(),
            folder: "f".into(),
        },
        grants: vec![Grant {
            workspace: "ws1".into(),
            role: Role::Uploader,
        }],
    };
    assert_eq!(p.check("ws1", Capability::Upload), Ok(Role::Uploader));
    assert_eq!(p.check("ws1", Capability::View), Err(Refusal::Forbidden));
    assert_eq!(p.check("ws1", Capability::Mkdir), Err(Refusal::Forbidden));
    assert_eq!(p.check("ws2", Capability::Upload), Err(Refusal::NotFound));
}
