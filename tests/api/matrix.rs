//! Who may call what: every API route × every kind of caller × their own and a foreign
//! organization's data, checked against the rule written here; and every operation of the OpenAPI
//! document fed hostile bodies. A route added to the source without a rule fails the test.
use std::collections::{BTreeSet, HashMap};

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::exams::{cert_id, exam_app, put_answer, review_of, start_attempt};
use crate::helpers::{json, TestApp, DEMO_PASSWORD};

/// The callers, in the order of a rule's columns: no account, then the demo organization's
/// learner, trainer, HR and admin, then the platform's admin (who also holds the trainer role,
/// in another organization).
const ACTORS: [&str; 6] = ["anonymous", "learner", "trainer", "hr", "admin", "platform"];

/// What a path parameter names. Scoped kinds belong to one organization: the foreign check
/// swaps in the other organization's value and expects a 404.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    /// The demo learner's submitted attempt (and a question of it).
    Attempt,
    Question,
    /// The demo learner's certificate.
    Code,
    /// A course the demo trainer wrote, one of its lessons by slug and by id, one of its
    /// questions.
    Course,
    Slug,
    Lesson,
    ExternalId,
    /// The demo learner's account.
    User,
    /// An invitation HR sent, and its email in the outbox.
    Invitation,
    Outbox,
    // Not scoped: shared catalog entries and names.
    Certification,
    Category,
    Department,
    Mode,
}

impl Kind {
    fn scoped(self) -> bool {
        !matches!(
            self,
            Kind::Certification | Kind::Category | Kind::Department | Kind::Mode
        )
    }
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str, &'static str),
}

/// One route's rule: what each caller of `ACTORS` gets with the demo organization's data:
/// `401`, `403` or `404` exactly; `ok` for anything else below 500 (the call is allowed; it
/// may still be refused for its content); `pub` for a public route, where a 404 is a content
/// answer too. Every caller allowed (`ok`) must get a 404 for the foreign organization's data.
struct Rule {
    method: &'static str,
    path: &'static str,
    params: &'static [Kind],
    expect: &'static str,
    body: Body,
    /// A body the handler would accept, sent where a 404 is expected (a refusal there must
    /// not come from validating the body first).
    valid: Option<Body>,
}

impl Rule {
    fn valid(mut self, body: Body) -> Rule {
        self.valid = Some(body);
        self
    }

    /// Whether the call names another organization's data when given its values.
    fn scoped(&self) -> bool {
        let refers = |b: &Body| matches!(b, Body::Json(v) if v.to_string().contains("\"$"));
        self.params.iter().any(|k| k.scoped())
            || refers(&self.body)
            || self.valid.as_ref().is_some_and(refers)
    }
}

fn rule(
    method: &'static str,
    path: &'static str,
    params: &'static [Kind],
    expect: &'static str,
    body: Body,
) -> Rule {
    Rule {
        method,
        path,
        params,
        expect,
        body,
        valid: None,
    }
}

/// Bodies that every handler can read, so a refusal comes from the rule and not from the body;
/// where the caller is allowed they are invalid, so the matrix changes little. A string `"$User"`
/// in a body stands for that kind's value (a number).
fn rules() -> Vec<Rule> {
    use Body::{Json, Raw};
    use Kind::*;
    let none = || Body::None;
    vec![
        // Public.
        rule(
            "get",
            "/api/openapi.json",
            &[],
            "pub pub pub pub pub pub",
            none(),
        ),
        rule(
            "get",
            "/api/v1/verify/{code}",
            &[Code],
            "pub pub pub pub pub pub",
            none(),
        ),
        rule(
            "post",
            "/api/v1/verify",
            &[],
            "pub pub pub pub pub pub",
            Json(json!({"credential": "x.y.z"})),
        ),
        rule(
            "post",
            "/api/v1/auth/login",
            &[],
            "pub pub pub pub pub pub",
            Json(json!({"email": "learner@demo.test", "password": DEMO_PASSWORD})),
        ),
        rule(
            "post",
            "/api/v1/auth/password-reset",
            &[],
            "pub pub pub pub pub pub",
            Json(json!({"email": "nobody@nowhere.test"})),
        ),
        rule(
            "post",
            "/api/v1/auth/password-reset/confirm",
            &[],
            "pub pub pub pub pub pub",
            Json(json!({"token": "nope", "password": "x"})),
        ),
        rule(
            "post",
            "/api/v1/auth/invitations/accept",
            &[],
            "pub pub pub pub pub pub",
            Json(json!({"token": "nope", "password": "x"})),
        ),
        // Anyone signed in, about themselves or the shared catalog.
        rule("get", "/api/v1/me", &[], "401 ok ok ok ok ok", none()),
        rule(
            "patch",
            "/api/v1/me",
            &[],
            "401 ok ok ok ok ok",
            Json(json!({"language": "no-such-language"})),
        ),
        rule(
            "get",
            "/api/v1/me/certificates",
            &[],
            "401 ok ok ok ok ok",
            none(),
        ),
        rule(
            "get",
            "/api/v1/me/learning",
            &[],
            "401 ok ok ok ok ok",
            none(),
        ),
        rule(
            "get",
            "/api/v1/certifications",
            &[],
            "401 ok ok ok ok ok",
            none(),
        ),
        rule(
            "post",
            "/api/v1/certifications/{id}/attempts",
            &[Certification],
            "401 ok ok ok ok ok",
            Json(json!({})),
        ),
        rule("get", "/api/v1/courses", &[], "401 ok ok ok ok ok", none()),
        rule(
            "get",
            "/api/v1/job-categories",
            &[],
            "401 ok ok ok ok ok",
            none(),
        ),
        rule(
            "get",
            "/api/v1/job-categories/{id}/framework.csv",
            &[Category],
            "401 ok ok ok ok ok",
            none(),
        ),
        rule(
            "get",
            "/api/v1/positions",
            &[],
            "401 ok ok ok ok ok",
            none(),
        ),
        // The organization's courses and lessons: anyone of the organization.
        rule(
            "get",
            "/api/v1/courses/{id}",
            &[Course],
            "401 ok ok ok ok 404",
            none(),
        ),
        rule(
            "post",
            "/api/v1/courses/{id}/enrolment",
            &[Course],
            "401 ok ok ok ok 404",
            Json(json!({})),
        ),
        rule(
            "get",
            "/api/v1/lessons/{id}",
            &[Lesson],
            "401 ok ok ok ok 404",
            none(),
        ),
        rule(
            "post",
            "/api/v1/lessons/{id}/completion",
            &[Lesson],
            "401 ok ok ok ok 404",
            Json(json!({})),
        ),
        // An attempt is its holder's; trainers of the organization review it.
        rule(
            "get",
            "/api/v1/attempts/{id}",
            &[Attempt],
            "401 ok 404 404 404 404",
            none(),
        ),
        rule(
            "put",
            "/api/v1/attempts/{id}/answers/{question_id}",
            &[Attempt, Question],
            "401 ok 404 404 404 404",
            Json(json!({})),
        ),
        rule(
            "put",
            "/api/v1/attempts/{id}/flags/{question_id}",
            &[Attempt, Question],
            "401 ok 404 404 404 404",
            Json(json!({})),
        )
        .valid(Json(json!(true))),
        rule(
            "post",
            "/api/v1/attempts/{id}/events",
            &[Attempt],
            "401 ok 404 404 404 404",
            Json(json!({"kind": "no-such-kind"})),
        )
        .valid(Json(json!({"kind": "focus_lost"}))),
        rule(
            "post",
            "/api/v1/attempts/{id}/submit",
            &[Attempt],
            "401 ok 404 404 404 404",
            Json(json!({})),
        ),
        rule(
            "get",
            "/api/v1/attempts/{id}/result",
            &[Attempt],
            "401 ok ok ok ok 404",
            none(),
        ),
        rule(
            "get",
            "/api/v1/attempts/{id}/review",
            &[Attempt],
            "401 403 ok 403 ok 404",
            none(),
        ),
        rule(
            "put",
            "/api/v1/attempts/{id}/grades/{question_id}",
            &[Attempt, Question],
            "401 403 ok 403 403 404",
            Json(json!({"mark": -1.0})),
        ),
        rule(
            "get",
            "/api/v1/grading",
            &[],
            "401 403 ok 403 403 ok",
            none(),
        ),
        // Certificates: the holder, and the organization's admins and HR.
        rule(
            "get",
            "/api/v1/certificates/{code}.pdf",
            &[Code],
            "401 ok 404 ok ok 404",
            none(),
        ),
        rule(
            "get",
            "/api/v1/certificates/{code}/credential",
            &[Code],
            "401 ok 404 ok ok 404",
            none(),
        ),
        rule(
            "put",
            "/api/v1/me/certificates/{code}/disclosure",
            &[Code],
            "401 ok 404 404 404 404",
            Json(json!({"name_disclosure": "nobody"})),
        )
        .valid(Json(json!({"name_disclosure": "surname"}))),
        rule(
            "get",
            "/api/v1/certificates",
            &[],
            "401 403 403 ok ok ok",
            none(),
        ),
        rule(
            "get",
            "/api/v1/certificates/export.zip",
            &[],
            "401 403 403 ok ok ok",
            none(),
        ),
        // Certifications: trainers edit blueprints and read statistics; accommodations by HR
        // and trainers.
        rule(
            "get",
            "/api/v1/certifications/{id}/blueprint",
            &[Certification],
            "401 403 ok 403 403 ok",
            none(),
        ),
        rule(
            "put",
            "/api/v1/certifications/{id}/blueprint",
            &[Certification],
            "401 403 403 403 403 ok",
            Json(json!({"sections": []})),
        ),
        rule(
            "get",
            "/api/v1/certifications/{id}/statistics",
            &[Certification],
            "401 403 ok 403 403 ok",
            none(),
        ),
        rule(
            "post",
            "/api/v1/certifications/{id}/accommodations",
            &[Certification],
            "401 403 ok ok 403 404",
            Json(json!({"user_id": "$User", "extra_minutes": 10, "reason": ""})),
        )
        .valid(Json(
            json!({"user_id": "$User", "extra_minutes": 10, "reason": "matrix"}),
        )),
        // Authoring: trainers, in their own organization.
        rule(
            "post",
            "/api/v1/courses",
            &[],
            "401 403 ok 403 403 ok",
            Json(json!({"code": "", "title": "", "summary": "", "category": "", "level": 0})),
        ),
        rule(
            "patch",
            "/api/v1/courses/{id}",
            &[Course],
            "401 403 ok 403 403 404",
            Json(json!({"level": 99})),
        )
        .valid(Json(json!({"title": "Taken over"}))),
        rule(
            "post",
            "/api/v1/courses/{id}/copy",
            &[Course],
            "401 403 ok 403 403 404",
            Json(json!({"code": ""})),
        )
        .valid(Json(json!({"code": "taken-copy"}))),
        rule(
            "post",
            "/api/v1/courses/{id}/publish",
            &[Course],
            "401 403 ok 403 403 404",
            Json(json!({})),
        ),
        rule(
            "put",
            "/api/v1/courses/{id}/lessons/{slug}",
            &[Course, Slug],
            "401 403 ok 403 403 404",
            Json(json!({"title": "", "kind": "", "body_markdown": ""})),
        )
        .valid(Json(
            json!({"title": "Taken", "kind": "operational-skills", "body_markdown": "Taken."}),
        )),
        rule(
            "get",
            "/api/v1/courses/{id}/questions.gift",
            &[Course],
            "401 403 ok 403 403 404",
            none(),
        ),
        rule(
            "put",
            "/api/v1/courses/{id}/questions.gift",
            &[Course],
            "401 403 ok 403 403 404",
            Raw("text/plain", "::broken:: {"),
        )
        .valid(Raw(
            "text/plain",
            "// [id:taken] [tag:competency=uo-rfm] [tag:difficulty=easy]\n::taken:: Pick {=a ~b}\n",
        )),
        rule(
            "post",
            "/api/v1/courses/{id}/questions/{external_id}/regrade",
            &[Course, ExternalId],
            "401 403 ok 403 403 404",
            Json(json!({"reason": "", "dry_run": true})),
        )
        .valid(Json(json!({"reason": "matrix", "dry_run": true}))),
        rule(
            "put",
            "/api/v1/job-categories/{id}/framework.csv",
            &[Category],
            "401 403 403 403 403 ok",
            Raw("text/csv", "not,a,framework\n"),
        ),
        // Skills and gaps: HR and admins; a person sees their own; managers their reports.
        rule("get", "/api/v1/evidence", &[], "401 ok ok ok ok ok", none()),
        rule(
            "post",
            "/api/v1/evidence",
            &[],
            "401 ok ok ok ok 404",
            Json(json!({"user_id": "$User", "competency": "", "level": 0, "source": ""})),
        )
        .valid(Json(
            json!({"user_id": "$User", "competency": "uo-rfm", "level": 2, "source": "manager"}),
        )),
        rule(
            "get",
            "/api/v1/gaps/organization",
            &[],
            "401 403 403 ok ok ok",
            none(),
        ),
        rule(
            "get",
            "/api/v1/gaps/departments/{name}",
            &[Department],
            "401 403 403 ok ok 404",
            none(),
        ),
        rule(
            "get",
            "/api/v1/gaps/people/{user_id}",
            &[User],
            "401 ok 404 ok ok 404",
            none(),
        ),
        rule(
            "get",
            "/api/v1/gaps/people/{user_id}/learning-paths",
            &[User],
            "401 ok 404 ok ok 404",
            none(),
        ),
        rule(
            "post",
            "/api/v1/gaps/people/{user_id}/learning-path",
            &[User],
            "401 403 403 ok ok 404",
            Json(json!({})),
        ),
        rule(
            "put",
            "/api/v1/organization/level-rule",
            &[],
            "401 403 403 ok ok ok",
            Json(json!({"rule": "no-such-rule"})),
        ),
        rule(
            "post",
            "/api/v1/positions",
            &[],
            "401 403 403 ok ok ok",
            Json(json!({"code": "", "name": "", "category": ""})),
        ),
        rule(
            "post",
            "/api/v1/positions/templates/{mode}",
            &[Mode],
            "401 403 403 ok ok ok",
            Json(json!({})),
        ),
        rule("get", "/api/v1/roster", &[], "401 403 403 ok ok ok", none()),
        rule(
            "post",
            "/api/v1/roster",
            &[],
            "401 403 403 ok ok ok",
            Raw("text/csv", "not,a,roster\n"),
        ),
        // People and onboarding.
        rule(
            "get",
            "/api/v1/invitations",
            &[],
            "401 403 403 ok ok ok",
            none(),
        ),
        rule(
            "post",
            "/api/v1/invitations",
            &[],
            "401 403 403 ok ok ok",
            Json(json!({"email": "", "display_name": ""})),
        ),
        rule("get", "/api/v1/users", &[], "401 403 403 403 ok ok", none()),
        rule(
            "post",
            "/api/v1/users",
            &[],
            "401 403 403 403 ok ok",
            Json(json!({"email": "", "display_name": "", "roles": []})),
        ),
        rule(
            "get",
            "/api/v1/users/{id}",
            &[User],
            "401 403 403 403 ok 404",
            none(),
        ),
        rule(
            "patch",
            "/api/v1/users/{id}",
            &[User],
            "401 403 403 403 ok 404",
            Json(json!({"status": "no-such-status"})),
        )
        .valid(Json(json!({"display_name": "Taken"}))),
        rule(
            "put",
            "/api/v1/users/{id}/roles",
            &[User],
            "401 403 403 403 ok 404",
            Json(json!({"roles": []})),
        )
        .valid(Json(json!({"roles": ["learner"]}))),
        rule(
            "get",
            "/api/v1/organizations",
            &[],
            "401 403 403 403 403 ok",
            none(),
        ),
        rule(
            "post",
            "/api/v1/organizations",
            &[],
            "401 403 403 403 403 ok",
            Json(json!({"name": "", "slug": "", "admin_email": "", "admin_name": ""})),
        ),
        // Operations.
        rule("get", "/api/v1/audit", &[], "401 403 403 403 ok ok", none()),
        rule(
            "get",
            "/api/v1/admin/outbox",
            &[],
            "401 403 403 403 ok ok",
            none(),
        ),
        rule(
            "post",
            "/api/v1/admin/outbox/{id}/retry",
            &[Outbox],
            "401 403 403 403 ok 404",
            Json(json!({})),
        ),
        // Last: these change or remove what the rules above read.
        rule(
            "post",
            "/api/v1/certificates/{code}/revocation",
            &[Code],
            "401 403 403 403 ok 404",
            Json(json!({"reason": ""})),
        )
        .valid(Json(json!({"reason": "matrix"}))),
        rule(
            "post",
            "/api/v1/certificates/{code}/reissue",
            &[Code],
            "401 403 403 403 ok 404",
            Json(json!({})),
        ),
        rule(
            "delete",
            "/api/v1/invitations/{id}",
            &[Invitation],
            "401 403 403 ok ok 404",
            none(),
        ),
        rule(
            "delete",
            "/api/v1/courses/{id}/lessons/{slug}",
            &[Course, Slug],
            "401 403 ok 403 403 404",
            none(),
        ),
        rule(
            "post",
            "/api/v1/auth/logout",
            &[],
            "401 ok ok ok ok ok",
            Json(json!({})),
        ),
    ]
}

/// One organization's data, by kind.
type Values = HashMap<Kind, String>;

/// The demo organization's data, the foreign organization's, and a token per caller.
struct World {
    app: TestApp,
    _dir: tempfile::TempDir,
    tokens: HashMap<&'static str, String>,
    own: Values,
    foreign: Values,
}

async fn sql(app: &TestApp, text: &str) {
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    db.execute(Statement::from_string(backend, text.to_string()))
        .await
        .unwrap();
}

/// What a trainer, a learner and HR of an organization make: a published course with a lesson
/// and a question, a passed attempt with its certificate, an invitation and its email.
async fn organization_data(
    app: &TestApp,
    learner: &str,
    trainer: &str,
    hr: &str,
    admin: &str,
    learner_email: &str,
    prefix: &str,
) -> Values {
    let mut values = Values::new();
    let course = json(
        app.post_json(
            "/api/v1/courses",
            trainer,
            &json!({"code": format!("{prefix}-course"), "title": "Matrix course", "summary": "For the matrix.", "category": "user-operation", "level": 2, "develops": [{"competency": "uo-rfm", "level": 2}]}),
        )
        .await,
    )
    .await;
    let course = course["id"].as_i64().expect("course id").to_string();
    let lesson = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/courses/{course}/lessons/first"),
            trainer,
            &json!({"title": "First", "kind": "operational-skills", "body_markdown": "Hello."}),
        )
        .await;
    assert_eq!(lesson.status(), StatusCode::OK);
    let gift = app
        .api
        .put(app.url(&format!("/api/v1/courses/{course}/questions.gift")))
        .bearer_auth(trainer)
        .header("content-type", "text/plain")
        .body(format!("// [id:{prefix}-q1] [tag:competency=uo-rfm] [tag:difficulty=easy]\n::{prefix}-q1:: Pick one {{=right ~wrong}}\n"))
        .send()
        .await
        .unwrap();
    assert!(gift.status().is_success(), "{}", gift.text().await.unwrap());
    let published = app
        .post_json(
            &format!("/api/v1/courses/{course}/publish"),
            trainer,
            &json!({}),
        )
        .await;
    assert_eq!(published.status(), StatusCode::OK);
    let detail = json(app.get(&format!("/api/v1/courses/{course}"), learner).await).await;
    values.insert(Kind::Lesson, detail["lessons"][0]["id"].to_string());
    values.insert(Kind::Course, course);
    values.insert(Kind::Slug, "first".into());
    values.insert(Kind::ExternalId, format!("{prefix}-q1"));

    let invitation = json(
        app.post_json(
            "/api/v1/invitations",
            hr,
            &json!({"email": format!("newcomer@{prefix}.test"), "display_name": "Newcomer"}),
        )
        .await,
    )
    .await;
    values.insert(Kind::Invitation, invitation["id"].to_string());
    let outbox = json(app.get("/api/v1/admin/outbox", admin).await).await;
    values.insert(Kind::Outbox, outbox["items"][0]["id"].to_string());
    values.insert(
        Kind::User,
        app.user_id(admin, learner_email).await.to_string(),
    );

    // The learner passes the open certification with the keys from a trainer's review.
    let cert = cert_id(app, learner, "uo-open").await;
    values.insert(Kind::Certification, cert.to_string());
    let attempt = start_attempt(app, learner, cert).await;
    let attempt = attempt["id"].as_i64().expect("attempt id");
    let review = review_of(app, trainer, attempt).await;
    let questions = review["questions"].as_array().expect("questions").clone();
    for q in &questions {
        put_answer(
            app,
            learner,
            attempt,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
    }
    let submitted = app
        .post_json(
            &format!("/api/v1/attempts/{attempt}/submit"),
            learner,
            &json!({}),
        )
        .await;
    assert_eq!(submitted.status(), StatusCode::OK);
    values.insert(Kind::Attempt, attempt.to_string());
    values.insert(Kind::Question, questions[0]["id"].to_string());
    let mine = json(app.get("/api/v1/me/certificates", learner).await).await;
    values.insert(
        Kind::Code,
        mine["items"][0]["code"]
            .as_str()
            .expect("a certificate")
            .to_string(),
    );
    values.insert(Kind::Category, "user-operation".into());
    values.insert(Kind::Department, "Store%201".into());
    values.insert(Kind::Mode, "self-built".into());
    values
}

/// The demo organization with its data, and a second organization ("acme") with the same
/// kinds of data, made through the API (the acme admin's and learner's passwords are set in
/// the database: onboarding by email is tested elsewhere).
async fn world() -> World {
    let (app, dir) = exam_app().await;
    let mut tokens = HashMap::new();
    for who in &ACTORS[1..] {
        tokens.insert(*who, app.token(who).await);
    }
    // A department for the demo learner, so department gaps have something to show.
    sql(
        &app,
        "UPDATE users SET department = 'Store 1' WHERE email = 'learner@demo.test'",
    )
    .await;
    let own = organization_data(
        &app,
        &tokens["learner"],
        &tokens["trainer"],
        &tokens["hr"],
        &tokens["admin"],
        "learner@demo.test",
        "own",
    )
    .await;

    let created = app
        .post_json(
            "/api/v1/organizations",
            &tokens["platform"],
            &json!({"name": "Acme Retail", "slug": "acme", "admin_email": "boss@acme.test", "admin_name": "Boss"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    sql(
        &app,
        "UPDATE users SET status = 'active', password_hash = (SELECT password_hash FROM users WHERE email = 'learner@demo.test') WHERE email = 'boss@acme.test'",
    )
    .await;
    let boss = app.token_for("boss@acme.test", DEMO_PASSWORD).await;
    let boss_id = app.user_id(&boss, "boss@acme.test").await;
    let roles = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/users/{boss_id}/roles"),
            &boss,
            &json!({"roles": ["admin", "hr", "trainer"]}),
        )
        .await;
    assert_eq!(roles.status(), StatusCode::OK);
    let boss = app.token_for("boss@acme.test", DEMO_PASSWORD).await;
    let made = app
        .post_json(
            "/api/v1/users",
            &boss,
            &json!({"email": "clerk@acme.test", "display_name": "Clerk", "roles": ["learner"], "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let clerk = app.token_for("clerk@acme.test", DEMO_PASSWORD).await;
    let foreign =
        organization_data(&app, &clerk, &boss, &boss, &boss, "clerk@acme.test", "acme").await;
    World {
        app,
        _dir: dir,
        tokens,
        own,
        foreign,
    }
}

fn fill(rule: &Rule, values: &Values) -> String {
    let mut path = rule.path.to_string();
    for kind in rule.params {
        let start = path.find('{').expect("a parameter per kind");
        let end = start + path[start..].find('}').expect("closing brace");
        path.replace_range(start..=end, &values[kind]);
    }
    path
}

/// A body with its `"$Kind"` references replaced by the values.
fn resolve(value: &Value, values: &Values) -> Value {
    match value {
        Value::String(s) if s == "$User" => json!(values[&Kind::User].parse::<i64>().unwrap()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(v, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Calls the rule's route as `who` with the given organization's values; `want_404` sends the
/// valid body when the rule has one.
async fn call(
    world: &World,
    rule: &Rule,
    who: &str,
    values: &Values,
    want_404: bool,
) -> StatusCode {
    let app = &world.app;
    let method = Method::from_bytes(rule.method.to_uppercase().as_bytes()).unwrap();
    let mut request = app.api.request(method, app.url(&fill(rule, values)));
    if let Some(token) = world.tokens.get(who) {
        request = request.bearer_auth(token);
    }
    let body = match (&rule.valid, want_404) {
        (Some(valid), true) => valid,
        _ => &rule.body,
    };
    request = match body {
        Body::None => request,
        Body::Json(value) => request.json(&resolve(value, values)),
        Body::Raw(content_type, text) => request
            .header("content-type", *content_type)
            .body(text.to_string()),
    };
    request.send().await.expect("request").status()
}

fn meets(expect: &str, status: StatusCode) -> bool {
    let code = status.as_u16();
    match expect {
        "ok" => code < 500 && !matches!(code, 401 | 403 | 404),
        "pub" => code < 500 && !matches!(code, 401 | 403),
        exact => exact == code.to_string(),
    }
}

#[tokio::test]
async fn every_api_route_answers_each_caller_by_its_rule_in_both_organizations() {
    let world = world().await;
    let rules = rules();

    // The table covers the source's routes exactly.
    let in_source: BTreeSet<(String, String)> = crate::openapi::all_routes_in_source()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/api/"))
        .collect();
    let in_table: BTreeSet<(String, String)> = rules
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(rules.len(), in_table.len(), "a route has two rules");
    let missing: Vec<_> = in_source.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_source).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without a rule: {missing:?}; rules without a route: {stale:?}"
    );

    let mut wrong = Vec::new();
    let mut checked = 0;
    for rule in &rules {
        let expected: Vec<&str> = rule.expect.split_whitespace().collect();
        assert_eq!(
            expected.len(),
            ACTORS.len(),
            "{} {}",
            rule.method,
            rule.path
        );
        for (who, expect) in ACTORS.iter().zip(&expected) {
            let status = call(&world, rule, who, &world.own, *expect == "404").await;
            checked += 1;
            if !meets(expect, status) {
                wrong.push(format!(
                    "{} {} as {who}: expected {expect}, got {status}",
                    rule.method, rule.path
                ));
            }
        }
        // Everyone allowed here is a stranger to the other organization's data.
        if rule.scoped() && !expected.contains(&"pub") {
            for (who, expect) in ACTORS.iter().zip(&expected) {
                if *expect != "ok" {
                    continue;
                }
                let status = call(&world, rule, who, &world.foreign, true).await;
                checked += 1;
                if status != StatusCode::NOT_FOUND {
                    wrong.push(format!(
                        "{} {} as {who} with the foreign organization's data: expected 404, got {status}",
                        rule.method, rule.path
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} calls broke their rule:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // The valid bodies sent with the foreign organization's data changed nothing there.
    let app = &world.app;
    let code = &world.foreign[&Kind::Code];
    let verified = json(
        app.api
            .get(app.url(&format!("/api/v1/verify/{code}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(verified["status"], "valid", "{verified}");
    let clerk = world.foreign[&Kind::User].clone();
    let boss = app.token_for("boss@acme.test", DEMO_PASSWORD).await;
    let person = json(app.get(&format!("/api/v1/users/{clerk}"), &boss).await).await;
    assert_eq!(person["display_name"], "Clerk");
    assert_eq!(person["roles"], json!(["learner"]));
    let course = &world.foreign[&Kind::Course];
    let detail = json(app.get(&format!("/api/v1/courses/{course}"), &boss).await).await;
    assert_eq!(detail["title"], "Matrix course");
    let lesson = json(
        app.get(
            &format!("/api/v1/lessons/{}", world.foreign[&Kind::Lesson]),
            &boss,
        )
        .await,
    )
    .await;
    assert_eq!(lesson["title"], "First", "{lesson}");
}
