//! The emulator alone, spoken to as raw HTTP written from `fastio-api.md` (no fastgate client
//! code, so these tests check the emulator against the contract).
mod ai;
mod api;
mod batch;
mod durability;
mod faults;
mod files;
mod uploads;
