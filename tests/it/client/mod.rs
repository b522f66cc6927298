//! The Fast.io client: against the real emulator, and on the wire against a scripted stand-in.
mod emulator;
mod files;
mod wire;
