//! Load driver for public verification lookups: the demo learner passes the open-entry shipped
//! certification (answers read from a trainer's review), then C connections look the
//! certificate up by code (`GET /api/v1/verify/{code}`) as fast as the service answers, for a
//! fixed time; one lookup in ten is an unknown code (a 404). Prints throughput and latency.
//!
//! Run against a release build with the verification rate limit off for the run
//! (`TALENTCERT_VERIFY_RATE_LIMIT=0`, see BENCHMARKS.md):
//! `cargo run --release --example verify_load -- http://127.0.0.1:8080 <demo password> 64 20`
//! (base URL, demo password, connections, seconds). Only loopback addresses are meant as targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

async fn login(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let r: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login of {email}: {r}"))
        .to_string()
}

/// The demo learner's certificate code, earning one first if there is none.
async fn certificate(client: &reqwest::Client, base: &str, password: &str) -> String {
    let learner = login(client, base, "learner@demo.test", password).await;
    let mine: Value = client
        .get(format!("{base}/api/v1/me/certificates"))
        .bearer_auth(&learner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    if let Some(code) = mine["items"][0]["code"].as_str() {
        return code.to_string();
    }
    let trainer = login(client, base, "trainer@demo.test", password).await;
    let certs: Value = client
        .get(format!("{base}/api/v1/certifications"))
        .bearer_auth(&learner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let open = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["can_start"] == true)
        .expect("a certification open to the demo learner");
    let attempt: Value = client
        .post(format!(
            "{base}/api/v1/certifications/{}/attempts",
            open["id"]
        ))
        .bearer_auth(&learner)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = attempt["id"].as_i64().unwrap();
    let review: Value = client
        .get(format!("{base}/api/v1/attempts/{id}/review"))
        .bearer_auth(&trainer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for q in review["questions"].as_array().unwrap() {
        client
            .put(format!("{base}/api/v1/attempts/{id}/answers/{}", q["id"]))
            .bearer_auth(&learner)
            .json(&q["correct_response"])
            .send()
            .await
            .unwrap();
    }
    let result: Value = client
        .post(format!("{base}/api/v1/attempts/{id}/submit"))
        .bearer_auth(&learner)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(result["passed"], true, "{result}");
    let mine: Value = client
        .get(format!("{base}/api/v1/me/certificates"))
        .bearer_auth(&learner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    mine["items"][0]["code"].as_str().unwrap().to_string()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let password = args.get(2).cloned().expect("the demo password");
    let connections: usize = args
        .get(3)
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
        .clamp(1, 1024);
    let seconds: u64 = args
        .get(4)
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .clamp(1, 600);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let code = certificate(&client, &base, &password).await;
    println!("verifying {code} with {connections} connections for {seconds} s");
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let client = client.clone();
        let base = base.clone();
        let code = code.clone();
        let stop = stop.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n: usize = worker;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                // One in ten is an unknown (but well-formed) code.
                let (path, expect) = if n.is_multiple_of(10) {
                    ("0000-0000-0000-0".to_string(), 404)
                } else {
                    (code.clone(), 200)
                };
                let t = Instant::now();
                match client
                    .get(format!("{base}/api/v1/verify/{path}"))
                    .send()
                    .await
                {
                    Ok(r) if r.status().as_u16() == expect => {
                        let _ = r.bytes().await;
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "lookups: {} in {:.1} s = {:.0}/s; p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; errors {}",
        all.len(),
        elapsed,
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.95),
        pct(0.99),
        pct(1.0),
        errors.load(Ordering::Relaxed)
    );
}
