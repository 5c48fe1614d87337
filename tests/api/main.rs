//! Integration tests: the real service on a random port, a fresh database per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod auth;
mod browser;
mod catalog;
mod certificates;
mod cli;
mod content_rules;
mod email;
mod errors;
mod exams;
mod faults;
mod gaps;
mod helpers;
mod lrs;
mod matrix;
mod openapi;
mod operations;
mod organizations;
mod pages;
mod persistence;
mod security;
mod smtp;
mod study;
mod users;
