//! Load driver for answer saves: N learners each with an open attempt, C connections saving
//! answers as fast as the service takes them for a fixed time; prints throughput and latency.
//!
//! Run against a release build of the service (see BENCHMARKS.md):
//! `cargo run --release --example exam_load -- http://127.0.0.1:8080 <demo password> 500 64 20`
//! (base URL, demo password, learners, connections, seconds). Bounded in count and time; only
//! loopback addresses are meant as targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Sitting {
    token: String,
    attempt: i64,
    answers: Vec<(i64, Value)>,
}

/// A valid response for a question of the attempt view (not necessarily right).
fn some_response(q: &Value) -> Value {
    let answer = &q["answer"];
    match answer["type"].as_str().unwrap_or_default() {
        "single_choice" => answer["options"][0]["id"].clone(),
        "multiple_choice" => json!([answer["options"][0]["id"].clone()]),
        "true_false" => json!(true),
        "numerical" => json!(42),
        "matching" => {
            let mut map = serde_json::Map::new();
            for item in answer["items"].as_array().unwrap() {
                map.insert(
                    item["id"].as_str().unwrap().to_string(),
                    answer["options"][0]["id"].clone(),
                );
            }
            Value::Object(map)
        }
        _ => json!("an answer"),
    }
}

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

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let password = args.get(2).cloned().expect("the demo password");
    let learners: usize = args
        .get(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500)
        .min(2000);
    let connections: usize = args
        .get(4)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64)
        .min(512);
    let seconds: u64 = args
        .get(5)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20)
        .min(300);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let admin = login(&client, &base, "admin@demo.test", &password).await;

    // Learners with an open attempt at the open-entry certification.
    let run = std::process::id();
    let setup = Instant::now();
    let mut sittings = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..learners {
        let (client, base, admin) = (client.clone(), base.clone(), admin.clone());
        tasks.spawn(async move {
            let email = format!("load-{run}-{i}@demo.test");
            let created = client
                .post(format!("{base}/api/v1/users"))
                .bearer_auth(&admin)
                .json(&json!({"email": email, "display_name": format!("Load {i}"), "roles": ["learner"], "password": "load-test-password"}))
                .send()
                .await
                .unwrap();
            assert!(created.status().is_success(), "create user: {}", created.status());
            let token = login(&client, &base, &email, "load-test-password").await;
            let certs: Value = client.get(format!("{base}/api/v1/certifications")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
            let cert = certs["items"].as_array().unwrap().iter().find(|c| c["can_start"] == true).expect("an open certification")["id"].as_i64().unwrap();
            let attempt: Value = client
                .post(format!("{base}/api/v1/certifications/{cert}/attempts"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let answers = attempt["questions"].as_array().unwrap().iter().map(|q| (q["id"].as_i64().unwrap(), some_response(q))).collect();
            Sitting { token, attempt: attempt["id"].as_i64().unwrap(), answers }
        });
        // At most 16 sign-ups in flight: argon2 is deliberately slow.
        while tasks.len() >= 16 {
            sittings.push(tasks.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(done) = tasks.join_next().await {
        sittings.push(done.unwrap());
    }
    eprintln!(
        "set up {} learners with open attempts in {:.1} s",
        sittings.len(),
        setup.elapsed().as_secs_f64()
    );

    let sittings = Arc::new(sittings);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..connections {
        let (client, base, sittings, stop) =
            (client.clone(), base.clone(), sittings.clone(), stop.clone());
        workers.spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            let mut k = w;
            while !stop.load(Ordering::Relaxed) {
                let s = &sittings[k % sittings.len()];
                let (q, r) = &s.answers[(k / sittings.len()) % s.answers.len()];
                k += connections;
                let t = Instant::now();
                let res = client
                    .put(format!("{base}/api/v1/attempts/{}/answers/{q}", s.attempt))
                    .bearer_auth(&s.token)
                    .json(r)
                    .send()
                    .await;
                match res {
                    Ok(resp) if resp.status().as_u16() == 204 => {
                        latencies.push(t.elapsed().as_micros() as u32)
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    while let Some(done) = workers.join_next().await {
        let (l, e) = done.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "{} saves in {elapsed:.1} s = {:.0} saves/s; {errors} errors; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} learners, {connections} connections)",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.95),
        pct(0.99),
        all.last().copied().unwrap_or(0) as f64 / 1000.0,
        sittings.len()
    );
}
