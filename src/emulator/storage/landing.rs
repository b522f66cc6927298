//! Where a node lands (§6.5): the conflict rule that move, copy and restore share, and sending
//! a subtree to the trash (what a delete does, and what the rule does to a same-named file).
//! A leaf below `arrange` and `trash`, so neither imports the other.

use rusqlite::Connection;

use super::nodes::{self, NodeRow};
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

/// The name `incoming` gets in `parent` under the conflict rule: a same-named live *file*
/// there is trashed first when `incoming` is a file, any other clash picks `name (2)`, `(3)` ….
/// `keep_self` names a node that may keep its own name (the node being moved).
pub fn make_room(
    c: &Connection,
    ws: &str,
    parent: &str,
    incoming: &NodeRow,
    keep_self: bool,
) -> Result<String, ApiError> {
    match nodes::child_named(c, ws, parent, &incoming.name)? {
        None => Ok(incoming.name.clone()),
        Some(other) if other.id == incoming.id && keep_self => Ok(incoming.name.clone()),
        Some(other)
            if other.id != incoming.id && other.kind == "file" && incoming.kind == "file" =>
        {
            send_to_trash(c, &other)?;
            Ok(incoming.name.clone())
        }
        Some(_) => nodes::free_name(c, ws, parent, &incoming.name),
    }
}

/// Sends a live node and its subtree to the trash.
pub fn send_to_trash(c: &Connection, n: &NodeRow) -> Result<(), ApiError> {
    let now = ids::now();
    for id in nodes::subtree(c, &n.workspace_id, &n.id)? {
        c.execute(
            "UPDATE nodes SET deleted = 1, updated = ?2 WHERE id = ?1",
            (&id, &now),
        )?;
    }
    c.execute(
        "UPDATE nodes SET parent = 'trash', deleted_from = ?2 WHERE id = ?1",
        (&n.id, &n.parent),
    )?;
    Ok(())
}
