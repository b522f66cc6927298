//! Real headless Chromium through WebDriver: what a person sees and does.
mod links;
mod uploads;
