//! Real headless Chromium through WebDriver: what a person sees and does.
mod files;
mod links;
mod uploads;
