//! Who may do what (issue 10): every route's need, sign-in and its throttle, sessions and
//! cookies, roles and API tokens, first-run setup, the audit log — on SQLite, and on
//! PostgreSQL shared by two replicas.

mod audit;
mod modes;
mod replicas;
mod roles;
mod routes;
mod signin;
