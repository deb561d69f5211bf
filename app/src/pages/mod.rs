//! One module per page, each with its template next to it.

pub mod browser;
pub mod onboarding;
pub mod overview;
pub mod preferences;
