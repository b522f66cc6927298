//! Fast.io emulator (placeholder).
