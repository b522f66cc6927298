//! The gateway's pages, form actions, JSON listing, downloads and security layers.
mod actions;
mod api;
mod browse;
mod download;
mod links;
mod render;
mod security;
mod startup;
mod upload;
mod upload_failures;
mod upload_limits;
mod upload_memory;
