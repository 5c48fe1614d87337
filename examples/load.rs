//! Load driver for talentcert. It starts a release build of the service on a fresh database
//! (SQLite in a temporary directory, or a new PostgreSQL database), measures the first start
//! (migrations, catalog import, demo seeding) and a restart, then drives one load and reports
//! throughput, latency percentiles, errors and the server's peak memory (`VmHWM`).
//!
//! ```text
//! cargo build --release
//! cargo run --release --example load -- exam --learners 1000
//! cargo run --release --example load -- saves --learners 500 --connections 32 --seconds 20
//! cargo run --release --example load -- verify --connections 32 --seconds 15
//! ```
//!
//! Add `--postgres postgres://postgres@127.0.0.1:5432/test` to run on PostgreSQL: a database
//! `talentcert_load_<pid>` is created on that server and dropped afterwards. The service runs
//! with its production defaults except where a flag says otherwise (`--verify-rate-limit`, whose
//! default here is 0 because every lookup comes from one address); the report names the
//! settings used. Loopback only; bounded in count and time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use tokio::sync::RwLock;

const DEMO_PASSWORD: &str = "load-demo-password";
const LEARNER_PASSWORD: &str = "load-learner-password";

#[derive(Parser)]
#[command(about = "Load driver for talentcert (see BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    load: Load,
}

#[derive(Subcommand)]
enum Load {
    /// Whole exams: each learner signs in, finds the open certification, starts an attempt,
    /// saves 40 answers (with integrity signals), submits and receives a certificate.
    Exam {
        /// Learners, all sitting in the same burst.
        #[arg(long, default_value_t = 1000)]
        learners: usize,
        /// Learners in flight at once (default: all of them).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Answer saves per learner (the drawn questions in turn, then revisions).
        #[arg(long, default_value_t = 40)]
        saves: usize,
        /// An integrity signal (focus lost) after every N saves; 0 sends none.
        #[arg(long, default_value_t = 10)]
        events_every: usize,
        /// Think time between a learner's requests, in milliseconds.
        #[arg(long, default_value_t = 0)]
        think_ms: u64,
        /// Sign everyone in first (timed on its own: a burst of argon2 logins), then time the
        /// exams alone: start, saves, submit, certificate.
        #[arg(long)]
        sign_in_first: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Answer saves only: learners with open attempts, connections saving as fast as the
    /// service answers for a fixed time.
    Saves {
        #[arg(long, default_value_t = 500)]
        learners: usize,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// An integrity signal after every N saves, counted in the same budget; 0 sends none.
        #[arg(long, default_value_t = 10)]
        events_every: usize,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Verification lookups by code (one in ten for an unknown code).
    Verify {
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Send the lookups of the valid code with `wrk` (one thread, written in C) instead of
        /// this driver, which leaves more of the 2 cores to the service.
        #[arg(long)]
        wrk: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Args, Clone)]
struct ServerArgs {
    /// The service binary (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/talentcert")]
    server: PathBuf,
    /// A PostgreSQL server URL; a fresh database is created there. SQLite when absent.
    #[arg(long)]
    postgres: Option<String>,
    /// Port the service listens on (loopback).
    #[arg(long, default_value_t = 18088)]
    port: u16,
    /// TALENTCERT_VERIFY_RATE_LIMIT for the run (lookups per client per minute; 0 is off).
    #[arg(long, default_value_t = 0)]
    verify_rate_limit: u32,
    /// TALENTCERT_WORKERS for the run (default: the service's own, one per core).
    #[arg(long)]
    workers: Option<usize>,
}

// ---------------------------------------------------------------------------------------------
// The service under test

struct Server {
    child: Child,
    base: String,
    data_dir: tempfile::TempDir,
    args: ServerArgs,
    database_url: Option<String>,
    postgres_db: Option<(String, String)>,
}

impl Server {
    /// Starts the service on a fresh database and measures its first start and a restart.
    async fn start(args: &ServerArgs) -> Server {
        assert!(
            args.server.exists(),
            "{} not found: run `cargo build --release` first",
            args.server.display()
        );
        let data_dir = tempfile::tempdir().unwrap();
        let mut postgres_db = None;
        let database_url = match &args.postgres {
            Some(url) => {
                let name = format!("talentcert_load_{}", std::process::id());
                let admin = Database::connect(url.as_str()).await.unwrap();
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                    .await
                    .unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                // The same server and options (e.g. `?sslmode=disable`), the fresh database.
                let (path, options) = url.split_once('?').unwrap_or((url.as_str(), ""));
                let (server, _) = path.rsplit_once('/').unwrap();
                let options = if options.is_empty() {
                    String::new()
                } else {
                    format!("?{options}")
                };
                postgres_db = Some((url.clone(), name.clone()));
                Some(format!("{server}/{name}{options}"))
            }
            None => None,
        };
        let base = format!("http://127.0.0.1:{}", args.port);
        let mut server = Server {
            child: spawn(args, data_dir.path(), database_url.as_deref()),
            base,
            data_dir,
            args: args.clone(),
            database_url,
            postgres_db,
        };
        let first = server.wait_ready().await;
        eprintln!(
            "first start (migrations, catalog import, demo seeding) to ready: {:.0} ms",
            first.as_secs_f64() * 1000.0
        );
        server.stop();
        server.child = spawn(
            &server.args,
            server.data_dir.path(),
            server.database_url.as_deref(),
        );
        let again = server.wait_ready().await;
        eprintln!(
            "restart with the catalog imported to ready: {:.0} ms",
            again.as_secs_f64() * 1000.0
        );
        println!(
            "start-up: first start {:.0} ms, restart {:.0} ms",
            first.as_secs_f64() * 1000.0,
            again.as_secs_f64() * 1000.0
        );
        server
    }

    async fn wait_ready(&mut self) -> Duration {
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status().is_success() {
                    return started.elapsed();
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the service exited with {status}; see {}",
                    self.data_dir.path().join("server.log").display()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the service was not ready within 2 minutes"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the service (SIGTERM, then SIGKILL after 10 s).
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's memory figures from /proc (peak and current resident set, and its parts).
    fn memory(&self) -> String {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .map_or_else(
                    || "?".to_string(),
                    |kb| format!("{:.1} MiB", kb as f64 / 1024.0),
                )
        };
        format!(
            "server memory: peak (VmHWM) {}, now (VmRSS) {} = anonymous {} + file {}",
            field("VmHWM:"),
            field("VmRSS:"),
            field("RssAnon:"),
            field("RssFile:")
        )
    }

    /// Prints the server's resident memory every 2 seconds until aborted (to stderr).
    fn sample_memory(&self) -> tokio::task::JoinHandle<()> {
        let path = format!("/proc/{}/status", self.child.id());
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let status = std::fs::read_to_string(&path).unwrap_or_default();
                let rss = status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                let threads = status
                    .lines()
                    .find(|l| l.starts_with("Threads:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .unwrap_or("?")
                    .to_string();
                eprintln!(
                    "  {:>5.1} s: server resident {:.1} MiB, {threads} threads",
                    started.elapsed().as_secs_f64(),
                    rss as f64 / 1024.0
                );
            }
        })
    }

    /// CPU seconds (user + system) the server has used so far.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    async fn finish(mut self) {
        println!("{}", self.memory());
        self.stop();
        if let Some((url, name)) = &self.postgres_db {
            let admin = Database::connect(url.as_str()).await.unwrap();
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// CPU seconds (user + system) of a process, from its /proc stat file.
fn cpu_seconds(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state; utime and stime
    // are the 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn spawn(args: &ServerArgs, data_dir: &std::path::Path, database_url: Option<&str>) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("server.log"))
        .unwrap();
    let mut cmd = Command::new(&args.server);
    cmd.env("TALENTCERT_BIND", format!("127.0.0.1:{}", args.port))
        .env("TALENTCERT_DATA_DIR", data_dir)
        .env("TALENTCERT_DEMO", "true")
        .env("TALENTCERT_DEMO_PASSWORD", DEMO_PASSWORD)
        .env(
            "TALENTCERT_VERIFY_RATE_LIMIT",
            args.verify_rate_limit.to_string(),
        )
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("TALENTCERT_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    if let Some(workers) = args.workers {
        cmd.env("TALENTCERT_WORKERS", workers.to_string());
    }
    cmd.spawn().unwrap()
}

fn describe(args: &ServerArgs) -> String {
    format!(
        "database {}, workers {}, TALENTCERT_VERIFY_RATE_LIMIT={}, login throttling at its defaults \
         (TALENTCERT_LOGIN_ACCOUNT_FAILURES=5, TALENTCERT_LOGIN_ADDRESS_FAILURES=50), {} cores",
        if args.postgres.is_some() { "PostgreSQL" } else { "SQLite" },
        args.workers
            .map_or_else(|| "default (one per core)".to_string(), |w| w.to_string()),
        args.verify_rate_limit,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}

// ---------------------------------------------------------------------------------------------
// Measurements

/// Latencies (µs) and errors of one kind of request.
#[derive(Default)]
struct Step {
    micros: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl Step {
    fn ok(&mut self, since: Instant) {
        self.micros
            .push(since.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    }

    fn err(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }

    fn merge(&mut self, other: Step) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn report(&mut self, name: &str, seconds: f64) {
        self.micros.sort_unstable();
        let n = self.micros.len();
        let pct = |p: f64| {
            self.micros
                .get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
                .copied()
                .unwrap_or(0) as f64
                / 1000.0
        };
        println!(
            "{name:<10} {n:>7} ok {:>5} errors {:>9.0}/s  p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
            self.errors,
            n as f64 / seconds,
            pct(0.50),
            pct(0.95),
            pct(0.99),
            self.micros.last().copied().unwrap_or(0) as f64 / 1000.0
        );
        if let Some(e) = &self.first_error {
            println!("           first error: {e}");
        }
    }
}

/// Sends a request and records it under `step`; answers the JSON body of a success.
async fn call(step: &mut Step, req: reqwest::RequestBuilder, expect: u16) -> Option<Value> {
    let t = Instant::now();
    match req.send().await {
        Ok(resp) if resp.status().as_u16() == expect => {
            let body = if expect == 204 {
                Value::Null
            } else {
                match resp.json::<Value>().await {
                    Ok(v) => v,
                    Err(e) => {
                        step.err(format!("unreadable body: {e}"));
                        return None;
                    }
                }
            };
            step.ok(t);
            Some(body)
        }
        Ok(resp) => {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            step.err(format!(
                "{status}: {}",
                body.chars().take(300).collect::<String>()
            ));
            None
        }
        Err(e) => {
            step.err(format!("transport: {e}"));
            None
        }
    }
}

/// Sends a request and records it under `step` when it answers `expect`; reads the body without
/// parsing it (so the driver spends its share of the cores on sending, not on JSON).
async fn probe(step: &mut Step, req: reqwest::RequestBuilder, expect: u16) {
    let t = Instant::now();
    match req.send().await {
        Ok(resp) if resp.status().as_u16() == expect => match resp.bytes().await {
            Ok(_) => step.ok(t),
            Err(e) => step.err(format!("unreadable body: {e}")),
        },
        Ok(resp) => step.err(format!("status {}", resp.status())),
        Err(e) => step.err(format!("transport: {e}")),
    }
}

fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

async fn login(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let mut step = Step::default();
    let r = call(
        &mut step,
        client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password})),
        200,
    )
    .await
    .unwrap_or_else(|| panic!("login of {email}: {:?}", step.first_error));
    r["access_token"].as_str().unwrap().to_string()
}

/// Creates `n` learners with passwords (16 at a time: argon2 is deliberately slow).
async fn create_learners(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    n: usize,
) -> Vec<String> {
    let run = std::process::id();
    let started = Instant::now();
    let mut emails = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (client, base, admin) = (client.clone(), base.to_string(), admin.to_string());
        tasks.spawn(async move {
            let email = format!("load-{run}-{i}@demo.test");
            let r = client
                .post(format!("{base}/api/v1/users"))
                .bearer_auth(&admin)
                .json(&json!({"email": email, "display_name": format!("Load Learner {i}"), "roles": ["learner"], "password": LEARNER_PASSWORD}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "create user: {}", r.status());
            email
        });
        while tasks.len() >= 16 {
            emails.push(tasks.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(done) = tasks.join_next().await {
        emails.push(done.unwrap());
    }
    eprintln!(
        "created {n} learners in {:.1} s (not part of any figure)",
        started.elapsed().as_secs_f64()
    );
    emails
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
            for item in answer["items"].as_array().into_iter().flatten() {
                map.insert(
                    item["id"].as_str().unwrap_or_default().to_string(),
                    answer["options"][0]["id"].clone(),
                );
            }
            Value::Object(map)
        }
        _ => json!("an answer"),
    }
}

/// Finds the certification open to the learner and starts it: the attempt's id and questions.
async fn open_attempt(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    list: &mut Step,
    start: &mut Step,
) -> Option<(i64, Vec<Value>)> {
    let certs = call(
        list,
        client
            .get(format!("{base}/api/v1/certifications"))
            .bearer_auth(token),
        200,
    )
    .await?;
    let Some(cert) = certs["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["can_start"] == true)
        .and_then(|c| c["id"].as_i64())
    else {
        list.err("no certification open to this learner".into());
        return None;
    };
    let attempt = call(
        start,
        client
            .post(format!("{base}/api/v1/certifications/{cert}/attempts"))
            .bearer_auth(token)
            .json(&json!({})),
        201,
    )
    .await?;
    let questions: Vec<Value> = attempt["questions"].as_array().cloned().unwrap_or_default();
    match attempt["id"].as_i64() {
        Some(id) if !questions.is_empty() => Some((id, questions)),
        _ => {
            start.err(format!("an attempt without questions: {attempt}"));
            None
        }
    }
}

/// Runs `connections` workers for `seconds`, each recording two kinds of request; answers the
/// merged records and the wall time.
async fn for_seconds<F, Fut>(connections: usize, seconds: u64, worker: F) -> (Step, Step, f64)
where
    F: Fn(usize, Arc<AtomicBool>) -> Fut,
    Fut: std::future::Future<Output = (Step, Step)> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..connections {
        workers.spawn(worker(w, stop.clone()));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut first, mut second) = (Step::default(), Step::default());
    while let Some(done) = workers.join_next().await {
        let (a, b) = done.unwrap();
        first.merge(a);
        second.merge(b);
    }
    (first, second, started.elapsed().as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// Whole exams

#[derive(Default)]
struct ExamSteps {
    login: Step,
    list: Step,
    start: Step,
    save: Step,
    event: Step,
    submit: Step,
    key: Step,
    whole: Step,
    passed: u64,
}

#[allow(clippy::too_many_arguments)]
async fn sit_exam(
    client: reqwest::Client,
    base: String,
    email: String,
    signed_in: Option<String>,
    trainer: String,
    keys: Arc<RwLock<HashMap<i64, Value>>>,
    saves: usize,
    events_every: usize,
    think: Duration,
) -> ExamSteps {
    let mut s = ExamSteps::default();
    let began = Instant::now();
    let think = || async move {
        if !think.is_zero() {
            tokio::time::sleep(think).await;
        }
    };
    let token = match signed_in {
        Some(token) => token,
        None => {
            let Some(token) = call(
                &mut s.login,
                client
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&json!({"email": email, "password": LEARNER_PASSWORD})),
                200,
            )
            .await
            .and_then(|r| r["access_token"].as_str().map(str::to_string)) else {
                return s;
            };
            token
        }
    };
    think().await;
    let Some((id, questions)) =
        open_attempt(&client, &base, &token, &mut s.list, &mut s.start).await
    else {
        return s;
    };
    // The right answers, from a trainer's review of the attempt (once per unseen question: the
    // pool is shared, so after the first attempts this costs nothing).
    let unknown = {
        let known = keys.read().await;
        questions
            .iter()
            .any(|q| !known.contains_key(&q["id"].as_i64().unwrap_or_default()))
    };
    if unknown {
        if let Some(review) = call(
            &mut s.key,
            client
                .get(format!("{base}/api/v1/attempts/{id}/review"))
                .bearer_auth(&trainer),
            200,
        )
        .await
        {
            let mut known = keys.write().await;
            for q in review["questions"].as_array().into_iter().flatten() {
                if let Some(qid) = q["id"].as_i64() {
                    known.insert(qid, q["correct_response"].clone());
                }
            }
        }
    }
    let answers: Vec<(i64, Value, Value)> = {
        let known = keys.read().await;
        questions
            .iter()
            .map(|q| {
                let qid = q["id"].as_i64().unwrap_or_default();
                let right = known.get(&qid).cloned().unwrap_or_else(|| some_response(q));
                (qid, some_response(q), right)
            })
            .collect()
    };
    for i in 0..saves {
        think().await;
        // The first pass answers every question; revisions after it leave the right answer last.
        let (qid, some, right) = &answers[i % answers.len()];
        let response = if i + answers.len() >= saves {
            right
        } else {
            some
        };
        call(
            &mut s.save,
            client
                .put(format!("{base}/api/v1/attempts/{id}/answers/{qid}"))
                .bearer_auth(&token)
                .json(response),
            204,
        )
        .await;
        if events_every > 0 && (i + 1) % events_every == 0 {
            call(
                &mut s.event,
                client
                    .post(format!("{base}/api/v1/attempts/{id}/events"))
                    .bearer_auth(&token)
                    .json(&json!({"kind": "focus_lost", "detail": "load driver"})),
                200,
            )
            .await;
        }
    }
    think().await;
    if let Some(result) = call(
        &mut s.submit,
        client
            .post(format!("{base}/api/v1/attempts/{id}/submit"))
            .bearer_auth(&token)
            .json(&json!({})),
        200,
    )
    .await
    {
        if result["passed"] == true {
            s.passed += 1;
        } else {
            s.submit.err(format!("not passed: {}", result["percent"]));
        }
    }
    s.whole.ok(began);
    s
}

async fn certificates_total(client: &reqwest::Client, base: &str, admin: &str) -> u64 {
    let r: Value = client
        .get(format!("{base}/api/v1/certificates?limit=1"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["total"].as_u64().unwrap_or(0)
}

async fn run_exam(
    server: &Server,
    learners: usize,
    concurrency: usize,
    saves: usize,
    events_every: usize,
    think_ms: u64,
    sign_in_first: bool,
) {
    let base = server.base.clone();
    let client = client(concurrency);
    let admin = login(&client, &base, "admin@demo.test", DEMO_PASSWORD).await;
    let trainer = login(&client, &base, "trainer@demo.test", DEMO_PASSWORD).await;
    let emails = create_learners(&client, &base, &admin, learners).await;
    let before = certificates_total(&client, &base, &admin).await;
    println!(
        "{}",
        server
            .memory()
            .replace("server memory", "server memory after set-up")
    );

    let keys = Arc::new(RwLock::new(HashMap::new()));
    let sampler = server.sample_memory();
    // With --sign-in-first, the sign-in burst is timed on its own.
    let mut tokens: Vec<Option<String>> = vec![None; emails.len()];
    if sign_in_first {
        let started = Instant::now();
        let mut logins = Step::default();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, email) in emails.iter().enumerate() {
            let (client, base, email) = (client.clone(), base.clone(), email.clone());
            tasks.spawn(async move {
                let mut step = Step::default();
                let token = call(
                    &mut step,
                    client
                        .post(format!("{base}/api/v1/auth/login"))
                        .json(&json!({"email": email, "password": LEARNER_PASSWORD})),
                    200,
                )
                .await
                .and_then(|r| r["access_token"].as_str().map(str::to_string));
                (i, token, step)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, token, step) = done.unwrap();
            tokens[i] = token;
            logins.merge(step);
        }
        let wall = started.elapsed().as_secs_f64();
        println!("sign-in burst: {learners} learners at once in {wall:.1} s");
        logins.report("login", wall);
    }
    let (server_cpu, driver_cpu) = (server.cpu_seconds(), cpu_seconds("/proc/self/stat"));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut all = ExamSteps::default();
    let mut gather = |done: ExamSteps| {
        all.login.merge(done.login);
        all.list.merge(done.list);
        all.start.merge(done.start);
        all.save.merge(done.save);
        all.event.merge(done.event);
        all.submit.merge(done.submit);
        all.key.merge(done.key);
        all.whole.merge(done.whole);
        all.passed += done.passed;
    };
    for (email, token) in emails.into_iter().zip(tokens) {
        tasks.spawn(sit_exam(
            client.clone(),
            base.clone(),
            email,
            token,
            trainer.clone(),
            keys.clone(),
            saves,
            events_every,
            Duration::from_millis(think_ms),
        ));
        while tasks.len() >= concurrency {
            gather(tasks.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(done) = tasks.join_next().await {
        gather(done.unwrap());
    }
    let wall = started.elapsed().as_secs_f64();
    sampler.abort();
    let (server_cpu, driver_cpu) = (
        server.cpu_seconds() - server_cpu,
        cpu_seconds("/proc/self/stat") - driver_cpu,
    );
    let issued = certificates_total(&client, &base, &admin).await - before;
    println!(
        "whole exams{}: {learners} learners ({concurrency} at once, {saves} saves each, an integrity signal every {events_every} saves, think time {think_ms} ms) in {wall:.1} s wall time; {} passed, {issued} certificates issued",
        if sign_in_first { " (signed in beforehand)" } else { " (sign-in included)" },
        all.passed
    );
    all.login.report("login", wall);
    all.list.report("list", wall);
    all.start.report("start", wall);
    all.save.report("save", wall);
    all.event.report("event", wall);
    all.submit.report("submit", wall);
    all.key.report("key", wall);
    all.whole.report("whole exam", wall);
    println!(
        "CPU time during the exams: server {server_cpu:.1} s, load driver {driver_cpu:.1} s (of {:.1} s available on 2 cores)",
        wall * 2.0
    );
    let writes = all.save.micros.len() + all.event.micros.len();
    println!(
        "answer saves and integrity signals together: {:.0} writes/s over the wall time",
        writes as f64 / wall
    );
}

// ---------------------------------------------------------------------------------------------
// Answer saves

async fn run_saves(
    server: &Server,
    learners: usize,
    connections: usize,
    seconds: u64,
    events_every: usize,
) {
    let base = server.base.clone();
    let client = client(connections);
    let admin = login(&client, &base, "admin@demo.test", DEMO_PASSWORD).await;
    let emails = create_learners(&client, &base, &admin, learners).await;
    let setup = Instant::now();
    let mut sittings = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for email in emails {
        let (client, base) = (client.clone(), base.clone());
        tasks.spawn(async move {
            let token = login(&client, &base, &email, LEARNER_PASSWORD).await;
            let (mut list, mut start) = (Step::default(), Step::default());
            let (attempt, questions) = open_attempt(&client, &base, &token, &mut list, &mut start)
                .await
                .unwrap_or_else(|| {
                    panic!(
                        "{email} could not start: {:?} {:?}",
                        list.first_error, start.first_error
                    )
                });
            let answers: Vec<(i64, Value)> = questions
                .iter()
                .map(|q| (q["id"].as_i64().unwrap_or_default(), some_response(q)))
                .collect();
            (token, attempt, answers)
        });
        while tasks.len() >= 16 {
            sittings.push(tasks.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(done) = tasks.join_next().await {
        sittings.push(done.unwrap());
    }
    eprintln!(
        "{} learners signed in with open attempts in {:.1} s",
        sittings.len(),
        setup.elapsed().as_secs_f64()
    );
    let sittings = Arc::new(sittings);
    let counter = Arc::new(AtomicU64::new(0));
    let (mut save, mut event, wall) = for_seconds(connections, seconds, |_, stop| {
        let (client, base, sittings, counter) = (
            client.clone(),
            base.clone(),
            sittings.clone(),
            counter.clone(),
        );
        async move {
            let (mut save, mut event) = (Step::default(), Step::default());
            while !stop.load(Ordering::Relaxed) {
                let k = counter.fetch_add(1, Ordering::Relaxed) as usize;
                let (token, attempt, answers) = &sittings[k % sittings.len()];
                if events_every > 0 && k % (events_every + 1) == events_every {
                    call(
                        &mut event,
                        client
                            .post(format!("{base}/api/v1/attempts/{attempt}/events"))
                            .bearer_auth(token)
                            .json(&json!({"kind": "focus_lost"})),
                        200,
                    )
                    .await;
                    continue;
                }
                let (q, r) = &answers[(k / sittings.len()) % answers.len()];
                call(
                    &mut save,
                    client
                        .put(format!("{base}/api/v1/attempts/{attempt}/answers/{q}"))
                        .bearer_auth(token)
                        .json(r),
                    204,
                )
                .await;
            }
            (save, event)
        }
    })
    .await;
    println!(
        "answer saves: {} learners with open attempts, {connections} connections, {wall:.1} s; an integrity signal after every {events_every} saves",
        sittings.len()
    );
    save.report("save", wall);
    event.report("event", wall);
    println!(
        "saves and signals together: {:.0} writes/s",
        (save.micros.len() + event.micros.len()) as f64 / wall
    );
}

// ---------------------------------------------------------------------------------------------
// Verification lookups

/// The demo learner passes the open-entry certification (the whole-exam path); answers the
/// certificate's code.
async fn earn_certificate(client: &reqwest::Client, base: &str) -> String {
    let learner = login(client, base, "learner@demo.test", DEMO_PASSWORD).await;
    let trainer = login(client, base, "trainer@demo.test", DEMO_PASSWORD).await;
    let sat = sit_exam(
        client.clone(),
        base.to_string(),
        "learner@demo.test".to_string(),
        Some(learner.clone()),
        trainer,
        Arc::new(RwLock::new(HashMap::new())),
        40,
        0,
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        sat.passed, 1,
        "the demo learner did not pass: {:?} {:?}",
        sat.start.first_error, sat.submit.first_error
    );
    let mut step = Step::default();
    let mine = call(
        &mut step,
        client
            .get(format!("{base}/api/v1/me/certificates"))
            .bearer_auth(&learner),
        200,
    )
    .await
    .unwrap_or_else(|| panic!("the learner's certificates: {:?}", step.first_error));
    mine["items"][0]["code"].as_str().unwrap().to_string()
}

async fn run_verify(server: &Server, connections: usize, seconds: u64, wrk: bool) {
    let base = server.base.clone();
    let client = client(connections);
    let code = earn_certificate(&client, &base).await;
    let (server_cpu, driver_cpu) = (server.cpu_seconds(), cpu_seconds("/proc/self/stat"));
    if wrk {
        let out = Command::new("wrk")
            .args([
                "-t1",
                &format!("-c{connections}"),
                &format!("-d{seconds}s"),
                "--latency",
            ])
            .arg(format!("{base}/api/v1/verify/{code}"))
            .output()
            .expect("wrk is installed (Debian package wrk)");
        println!(
            "verification lookups of one valid code with wrk, {connections} connections:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        println!(
            "CPU time: server {:.1} s over {seconds} s on 2 cores",
            server.cpu_seconds() - server_cpu
        );
        return;
    }
    let (mut found, mut unknown, wall) = for_seconds(connections, seconds, |w, stop| {
        let (client, base, code) = (client.clone(), base.clone(), code.clone());
        async move {
            let (mut found, mut unknown) = (Step::default(), Step::default());
            let mut k = w;
            while !stop.load(Ordering::Relaxed) {
                k += connections;
                if k % 10 == 0 {
                    probe(
                        &mut unknown,
                        client.get(format!("{base}/api/v1/verify/0000000000000")),
                        404,
                    )
                    .await;
                } else {
                    probe(
                        &mut found,
                        client.get(format!("{base}/api/v1/verify/{code}")),
                        200,
                    )
                    .await;
                }
            }
            (found, unknown)
        }
    })
    .await;
    println!(
        "verification lookups: {connections} connections, {wall:.1} s, {:.0} lookups/s in all",
        (found.micros.len() + unknown.micros.len()) as f64 / wall
    );
    found.report("valid", wall);
    unknown.report("unknown", wall);
    println!(
        "CPU time: server {:.1} s, load driver {:.1} s (of {:.1} s available on 2 cores)",
        server.cpu_seconds() - server_cpu,
        cpu_seconds("/proc/self/stat") - driver_cpu,
        wall * 2.0
    );
}

// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let server_args = match &cli.load {
        Load::Exam { server, .. } | Load::Saves { server, .. } | Load::Verify { server, .. } => {
            server.clone()
        }
    };
    println!("settings: {}", describe(&server_args));
    let server = Server::start(&server_args).await;
    match cli.load {
        Load::Exam {
            learners,
            concurrency,
            saves,
            events_every,
            think_ms,
            sign_in_first,
            ..
        } => {
            let learners = learners.clamp(1, 20_000);
            let concurrency = concurrency.unwrap_or(learners).clamp(1, learners);
            run_exam(
                &server,
                learners,
                concurrency,
                saves.clamp(1, 400),
                events_every,
                think_ms,
                sign_in_first,
            )
            .await;
        }
        Load::Saves {
            learners,
            connections,
            seconds,
            events_every,
            ..
        } => {
            run_saves(
                &server,
                learners.clamp(1, 5_000),
                connections.clamp(1, 1_024),
                seconds.clamp(1, 600),
                events_every,
            )
            .await;
        }
        Load::Verify {
            wrk,
            connections,
            seconds,
            ..
        } => {
            run_verify(
                &server,
                connections.clamp(1, 1_024),
                seconds.clamp(1, 600),
                wrk,
            )
            .await;
        }
    }
    server.finish().await;
}
