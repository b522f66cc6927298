//! Real headless Chromium through WebDriver: what a person sees and does.
mod ask;
mod files;
mod links;
mod uploads;
