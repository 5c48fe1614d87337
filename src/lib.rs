//! talentcert: talent certification and learning management for private-domain operations teams.
pub mod assessment;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod catalog;
pub mod certificates;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod export;
pub mod fuzz_targets;
#[cfg(test)]
mod fuzzing;
pub mod gaps;
pub mod health;
pub mod i18n;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod pagination;
pub mod startup;
pub mod telemetry;
pub mod templates;
pub mod web;
pub mod xapi;
