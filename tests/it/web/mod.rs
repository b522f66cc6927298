//! The gateway's pages, form actions, JSON listing, downloads and security layers.
mod actions;
mod api;
mod ask;
mod browse;
mod download;
mod file_actions;
mod file_pages;
mod files;
mod links;
mod preview;
mod render;
mod security;
mod startup;
mod upload;
mod upload_failures;
mod upload_limits;
mod upload_memory;
