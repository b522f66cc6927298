//! Fast.io client (placeholder).
