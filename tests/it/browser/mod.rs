//! Real headless Chromium through WebDriver: what a person sees and does.
mod files;
mod ask;
mod links;
mod uploads;
