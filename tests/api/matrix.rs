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
    /// A position HR defined.
    Position,
    // Not scoped: shared catalog entries, names, public pages' keys.
    Certification,
    Category,
    Department,
    Mode,
    Token,
    Issuer,
    StatusList,
}

impl Kind {
    fn scoped(self) -> bool {
        !matches!(
            self,
            Kind::Certification
                | Kind::Category
                | Kind::Department
                | Kind::Mode
                | Kind::Token
                | Kind::Issuer
                | Kind::StatusList
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
        rule("post", "/api/v1/lessons/{id}/heartbeat", &[Lesson], "401 ok ok ok ok 404", Json(json!({"visible": true}))),
        // An organization's minimum study time: its trainers and admins.
        rule("put", "/api/v1/lessons/{id}/time-rule", &[Lesson], "401 403 ok 403 ok 404", Json(json!({"min_effective_seconds": 0}))),
        rule("get", "/api/v1/reports/study-time", &[], "401 403 403 ok ok ok", none()),
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
        rule("get", "/api/v1/courses/{id}/questions.xml", &[Course], "401 403 ok 403 403 404", none()),
        rule("get", "/api/v1/courses/{id}/questions.xlsx", &[Course], "401 403 ok 403 403 404", none()),
        rule("put", "/api/v1/courses/{id}/questions.xlsx", &[Course], "401 403 ok 403 403 404", Raw("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "not a workbook")),
        rule("put", "/api/v1/courses/{id}/questions.xml", &[Course], "401 403 ok 403 403 404", Raw("application/xml", "<quiz>")).valid(Raw("application/xml", "<quiz><question type=\"essay\"><name><text>x</text></name><questiontext format=\"html\"><text>Taken?</text></questiontext><idnumber>taken-xml</idnumber><tags><tag><text>competency=uo-rfm</text></tag><tag><text>difficulty=easy</text></tag></tags></question></quiz>")),
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
        // Certifications of the organization: its trainers create them and edit their rules.
        rule("get", "/api/v1/certifications/{id}/controls", &[Certification], "401 403 ok 403 ok ok", none()),
        rule("put", "/api/v1/certifications/{id}/controls", &[Certification], "401 403 ok 403 ok ok", Json(json!({"max_switches": null, "pledge": null}))),
        rule("post", "/api/v1/certifications", &[], "401 403 ok 403 403 ok", Json(json!({"code": "x", "category": "none", "level": 2, "title": "t", "blueprint": [], "rules": {"validity_months": 24, "pass_percent": 70, "excellent_percent": 90, "max_attempts": 3, "cooldown_hours": 24, "time_limit_minutes": 45, "on_timeout": "auto-submit", "counted_attempt": "highest"}}))),
        rule("put", "/api/v1/certifications/{id}/rules", &[Certification], "401 403 403 403 403 ok", Json(json!({"validity_months": 24, "pass_percent": 70, "excellent_percent": 90, "max_attempts": 3, "cooldown_hours": 24, "time_limit_minutes": 45, "on_timeout": "auto-submit", "counted_attempt": "highest"}))),
        rule("get", "/api/v1/positions/{id}/learning-map", &[Position], "401 ok ok ok ok 404", none()),
        rule("put", "/api/v1/positions/{id}/learning-map", &[Position], "401 403 403 ok ok 404", Json(json!({"stages": []}))),
        // Nobody of the matrix holds a position.
        rule("get", "/api/v1/me/learning-map", &[], "401 404 404 404 404 404", none()),
        // Department dashboards: HR and admins (managers of the department too).
        rule("get", "/api/v1/dashboards/departments/{name}", &[Department], "401 403 403 ok ok 404", none()),
        rule("get", "/api/v1/xapi/statements", &[], "401 403 403 ok ok ok", none()),
        rule("get", "/api/v1/organization/lrs", &[], "401 403 403 403 ok ok", none()),
        rule("put", "/api/v1/organization/lrs", &[], "401 403 403 403 ok ok", Json(json!({"endpoint": "", "username": "", "enabled": false}))),
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
    let position = app
        .post_json(
            "/api/v1/positions",
            hr,
            &json!({"code": format!("{prefix}-pos"), "name": "Matrix position", "category": "user-operation", "headcount": 1, "level": 2}),
        )
        .await;
    assert_eq!(position.status(), StatusCode::CREATED);
    values.insert(Kind::Position, format!("{prefix}-pos"));
    let code = &values[&Kind::Code];
    let verified = json(
        app.api
            .get(app.url(&format!("/api/v1/verify/{code}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let issuer = verified["certificate"]["issuer_url"]
        .as_str()
        .expect("issuer url");
    values.insert(Kind::Issuer, issuer.rsplit('/').next().unwrap().to_string());
    values.insert(Kind::Token, "not-a-real-token".into());
    values.insert(Kind::StatusList, "1".into());
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

/// A route's path with its parameters replaced by the organization's values, in order.
fn fill(path: &str, params: &[Kind], values: &Values) -> String {
    let mut path = path.to_string();
    for kind in params {
        let start = path.find('{').expect("a parameter per kind");
        let end = start + path[start..].find('}').expect("closing brace");
        path.replace_range(start..=end, &values[kind]);
    }
    path
}

/// Checks that a rule table names each route of the source that `wanted` selects, once.
fn assert_covers_source(table: &[(&str, &str)], wanted: impl Fn(&str) -> bool) {
    let in_source: BTreeSet<(String, String)> = crate::openapi::all_routes_in_source()
        .into_iter()
        .filter(|(_, path)| wanted(path))
        .collect();
    let in_table: BTreeSet<(String, String)> = table
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(table.len(), in_table.len(), "a route has two rules");
    let missing: Vec<_> = in_source.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_source).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without a rule: {missing:?}; rules without a route: {stale:?}"
    );
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
    let mut request = app
        .api
        .request(method, app.url(&fill(rule.path, rule.params, values)));
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
    let table: Vec<(&str, &str)> = rules.iter().map(|r| (r.method, r.path)).collect();
    assert_covers_source(&table, |path| path.starts_with("/api/"));

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

/// The property names of an operation's JSON body, from the OpenAPI document.
fn body_properties(doc: &Value, method: &str, path: &str) -> Vec<String> {
    let schema =
        &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    };
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Bodies no client should send: not JSON, the wrong JSON, too deep, too big, not UTF-8.
fn hostile_bodies(properties: &[String]) -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(300), "}".repeat(300));
    let huge_string = format!("\"{}\"", "x".repeat(300_000));
    let values = [
        "null",
        "[]",
        "{}",
        "-1",
        "1e999",
        "99999999999999999999999999",
        "\"\"",
        "\"\\u0000\\ud800\"",
        "\"<script>alert(1)</script>\"",
        huge_string.as_str(),
        deep.as_str(),
        deep_object.as_str(),
    ];
    let mut bodies: Vec<(&'static str, Vec<u8>)> = vec![
        ("application/json", Vec::new()),
        ("application/json", b"null".to_vec()),
        ("application/json", b"[]".to_vec()),
        ("application/json", b"\"a string\"".to_vec()),
        ("application/json", b"{}".to_vec()),
        ("application/json", b"{\"unclosed\": ".to_vec()),
        ("application/json", deep.clone().into_bytes()),
        ("application/json", deep_object.clone().into_bytes()),
        ("application/json", b"{\"a\": \"\xff\xfe\xfd\"}".to_vec()),
        (
            "application/json",
            format!("[{}]", "1,".repeat(1_500_000) + "1").into_bytes(),
        ),
        ("text/csv", b"\xff\xfe\x00\x00,\x00\n\"unclosed".to_vec()),
        (
            "text/plain",
            "::\u{0}:: {=\u{202e} ~".repeat(1_000).into_bytes(),
        ),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\xff\r\n--x--".to_vec(),
        ),
    ];
    for value in values {
        if properties.is_empty() {
            continue;
        }
        let fields: Vec<String> = properties
            .iter()
            .map(|p| format!("\"{p}\": {value}"))
            .collect();
        bodies.push((
            "application/json",
            format!("{{{}}}", fields.join(",")).into_bytes(),
        ));
    }
    bodies
}

#[tokio::test]
async fn hostile_bodies_and_queries_on_every_route_are_a_4xx_problem_never_a_500() {
    let world = world().await;
    let app = &world.app;
    let doc = json(
        app.api
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut wrong = Vec::new();
    let mut sent = 0;
    for rule in rules() {
        // As each caller who may use the route (so the handler is reached), with the demo
        // organization's data.
        let expected: Vec<&str> = rule.expect.split_whitespace().collect();
        let callers: Vec<&str> = ACTORS
            .iter()
            .zip(&expected)
            .filter(|(_, e)| **e == "ok" || **e == "pub")
            .map(|(who, _)| *who)
            .take(2)
            .collect();
        let path = fill(rule.path, rule.params, &world.own);
        let method = Method::from_bytes(rule.method.to_uppercase().as_bytes()).unwrap();
        let properties = body_properties(&doc, rule.method, rule.path);
        let mut requests: Vec<(String, &'static str, Vec<u8>)> = hostile_bodies(&properties)
            .into_iter()
            .map(|(content_type, body)| (path.clone(), content_type, body))
            .collect();
        for query in [
            "?limit=99999999999999999999&offset=-1",
            "?limit=abc&format=%00&q=%FF%FE",
            "?status=%3Cscript%3E&role=%00&department=..%2F..&surname=%E2%80%AE",
        ] {
            requests.push((format!("{path}{query}"), "application/json", b"{}".to_vec()));
        }
        for who in &callers {
            for (url, content_type, body) in &requests {
                let mut request = app
                    .api
                    .request(method.clone(), app.url(url))
                    .header("content-type", *content_type)
                    .body(body.clone());
                if let Some(token) = world.tokens.get(who) {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.expect("the service answers");
                sent += 1;
                let status = response.status();
                let shown: String = String::from_utf8_lossy(&body[..body.len().min(60)]).into();
                let problem = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/problem+json"));
                if status.is_server_error() {
                    wrong.push(format!(
                        "{} {url} as {who} with {shown:?}: {status}",
                        rule.method
                    ));
                } else if status.is_client_error() && !problem {
                    wrong.push(format!(
                        "{} {url} as {who} with {shown:?}: {status} without a problem body",
                        rule.method
                    ));
                }
            }
        }
    }
    let alive = app.api.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK, "the service is still up");
    assert!(sent > 1_000, "only {sent} requests");
    assert!(
        wrong.is_empty(),
        "{} of {sent} hostile requests were answered wrongly:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// A page route's rule, as [`Rule`] with these outcomes besides `403`, `404`, `ok` and `pub`:
/// `login` (a redirect to the sign-in page). POSTs carry the caller's CSRF token and a valid
/// form (so a refusal comes from the rule, not from reading the form); the anonymous caller has
/// the CSRF cookie of the sign-in page.
struct PageRule {
    method: &'static str,
    path: &'static str,
    params: &'static [Kind],
    expect: &'static str,
    /// The form is a file upload.
    multipart: bool,
    /// Fields a valid form carries besides the CSRF token.
    form: &'static [(&'static str, &'static str)],
    /// Sent from a fresh browser (a sign-in would replace the caller's session).
    fresh: bool,
}

impl PageRule {
    fn with(mut self, form: &'static [(&'static str, &'static str)]) -> PageRule {
        self.form = form;
        self
    }

    fn fresh(mut self) -> PageRule {
        self.fresh = true;
        self
    }
}

fn page(
    method: &'static str,
    path: &'static str,
    params: &'static [Kind],
    expect: &'static str,
) -> PageRule {
    PageRule {
        method,
        path,
        params,
        expect,
        multipart: false,
        form: &[],
        fresh: false,
    }
}

fn page_rules() -> Vec<PageRule> {
    use Kind::*;
    let upload = |mut r: PageRule| {
        r.multipart = true;
        r
    };
    vec![
        // Public pages, assets and probes.
        page("get", "/", &[], "login pub pub pub pub pub"),
        page("get", "/login", &[], "pub pub pub pub pub pub"),
        page("get", "/password-reset", &[], "pub pub pub pub pub pub"),
        page("get", "/password-reset/{token}", &[Token], "pub pub pub pub pub pub"),
        page("get", "/invitations/{token}", &[Token], "pub pub pub pub pub pub"),
        page("get", "/verify", &[], "pub pub pub pub pub pub"),
        page("get", "/verify/{code}", &[Code], "pub pub pub pub pub pub"),
        page("get", "/issuers/{id}", &[Issuer], "pub pub pub pub pub pub"),
        page("get", "/status-lists/{id}", &[StatusList], "pub pub pub pub pub pub"),
        page("get", "/.well-known/jwks.json", &[], "pub pub pub pub pub pub"),
        page("get", "/favicon.svg", &[], "pub pub pub pub pub pub"),
        page("get", "/static/app.css", &[], "pub pub pub pub pub pub"),
        page("get", "/static/exam.js", &[], "pub pub pub pub pub pub"),
        page("get", "/static/study.js", &[], "pub pub pub pub pub pub"),
        page("get", "/static/forms.js", &[], "pub pub pub pub pub pub"),
        page("get", "/learning-map", &[], "login ok ok ok ok ok"),
        page("get", "/dashboards/departments/{name}", &[Department], "login 403 403 ok ok 404"),
        page("get", "/hr/positions/{id}/learning-map", &[Position], "login 403 403 ok ok 404"),
        page("post", "/hr/positions/{id}/learning-map", &[Position], "login 403 403 ok ok 404"),
        page("get", "/healthz", &[], "pub pub pub pub pub pub"),
        page("get", "/readyz", &[], "pub pub pub pub pub pub"),
        page("get", "/metrics", &[], "pub pub pub pub pub pub"),
        page("post", "/login", &[], "pub pub pub pub pub pub").with(&[("email", "learner@demo.test"), ("password", DEMO_PASSWORD), ("next", "/")]).fresh(),
        page("post", "/password-reset", &[], "pub pub pub pub pub pub").with(&[("email", "nobody@nowhere.test")]),
        page("post", "/password-reset/{token}", &[Token], "pub pub pub pub pub pub").with(&[("password", "a long enough passphrase")]),
        page("post", "/invitations/{token}", &[Token], "pub pub pub pub pub pub").with(&[("password", "a long enough passphrase")]),
        page("post", "/language", &[], "pub pub pub pub pub pub").with(&[("lang", "zh-CN"), ("next", "/")]),
        upload(page("post", "/verify", &[], "pub pub pub pub pub pub")),
        // Anyone signed in.
        page("get", "/catalog", &[], "login ok ok ok ok ok"),
        page("get", "/certificates", &[], "login ok ok ok ok ok"),
        page("get", "/certifications", &[], "login ok ok ok ok ok"),
        page("get", "/learning", &[], "login ok ok ok ok ok"),
        page("get", "/skills", &[], "login ok ok ok ok ok"),
        page("post", "/certifications/{id}/start", &[Certification], "login ok ok ok ok ok"),
        page("get", "/courses/{id}", &[Course], "login ok ok ok ok 404"),
        page("get", "/lessons/{id}", &[Lesson], "login ok ok ok ok 404"),
        page("post", "/courses/{id}/enrol", &[Course], "login ok ok ok ok 404"),
        page("post", "/lessons/{id}/complete", &[Lesson], "login ok ok ok ok 404"),
        // The holder's exam and certificate.
        page("get", "/exams/{id}", &[Attempt], "login ok 404 404 404 404"),
        page("get", "/exams/{id}/result", &[Attempt], "login ok 404 404 404 404"),
        page("post", "/exams/{id}/save", &[Attempt], "login ok 404 404 404 404"),
        page("post", "/certificates/{code}/disclosure", &[Code], "login ok 404 404 404 404").with(&[("name_disclosure", "surname")]),
        // Trainers.
        page("get", "/trainer", &[], "login 403 ok 403 403 ok"),
        page("get", "/trainer/certifications", &[], "login 403 ok 403 403 ok"),
        page("get", "/trainer/grading", &[], "login 403 ok 403 403 ok"),
        page("get", "/trainer/attempts/{id}", &[Attempt], "login 403 ok 403 403 404"),
        page("get", "/trainer/certifications/{id}/blueprint", &[Certification], "login 403 ok 403 403 ok"),
        page("post", "/trainer/certifications/{id}/blueprint", &[Certification], "login 403 403 403 403 ok"),
        page("post", "/trainer/certifications/{id}/rules", &[Certification], "login 403 403 403 403 ok"),
        page("post", "/trainer/certifications/{id}/controls", &[Certification], "login 403 ok 403 403 ok"),
        page("get", "/hr/study-time", &[], "login 403 403 ok ok ok"),
        page("post", "/trainer/certifications/{id}/copy", &[Certification], "login 403 ok 403 403 ok"),
        page("get", "/trainer/certifications/{id}/statistics", &[Certification], "login 403 ok 403 403 ok"),
        page("post", "/trainer/courses", &[], "login 403 ok 403 403 ok"),
        page("get", "/trainer/courses/{id}", &[Course], "login 403 ok 403 403 404"),
        page("get", "/trainer/courses/{id}/lesson", &[Course], "login 403 ok 403 403 404"),
        page("post", "/trainer/courses/{id}/details", &[Course], "login 403 ok 403 403 404"),
        page("post", "/trainer/courses/{id}/lesson", &[Course], "login 403 ok 403 403 404"),
        page("post", "/trainer/courses/{id}/publish", &[Course], "login 403 ok 403 403 404"),
        page("post", "/trainer/courses/{id}/question", &[Course], "login 403 ok 403 403 404"),
        page("post", "/trainer/courses/{id}/questions", &[Course], "login 403 ok 403 403 404").with(&[("gift", "// [id:page-q] [tag:competency=uo-rfm] [tag:difficulty=easy]\n::page-q:: Pick {=a ~b}\n")]),
        page("post", "/trainer/grading/{attempt}/{question}", &[Attempt, Question], "login 403 ok 403 403 404").with(&[("mark", "1"), ("comment", "Matrix")]),
        // HR.
        page("get", "/hr", &[], "login 403 403 ok ok ok"),
        page("get", "/hr/positions", &[], "login 403 403 ok ok ok"),
        page("get", "/hr/roster", &[], "login 403 403 ok ok ok"),
        page("get", "/hr/departments/{name}", &[Department], "login 403 403 ok ok 404"),
        page("get", "/people/{id}/gaps", &[User], "login ok 404 ok ok 404"),
        page("post", "/hr/level-rule", &[], "login 403 403 ok ok ok").with(&[("rule", "highest")]),
        page("post", "/hr/positions", &[], "login 403 403 ok ok ok").with(&[("code", "page-pos"), ("name", "Page position"), ("name_zh", ""), ("category", "user-operation"), ("headcount", "1"), ("level", "2")]),
        page("post", "/hr/positions/template", &[], "login 403 403 ok ok ok").with(&[("mode", "self-built")]),
        page("post", "/hr/positions/{code}/requirements", &[Position], "login 403 403 ok ok 404"),
        upload(page("post", "/hr/roster", &[], "login 403 403 ok ok ok")),
        page("post", "/people/{id}/learning-path", &[User], "login 403 403 ok ok 404"),
        page("post", "/people/{id}/ratings", &[User], "login ok 403 403 403 404").with(&[("competency", "uo-rfm"), ("level", "2"), ("note", "Matrix")]),
        // Admins.
        page("get", "/admin", &[], "login 403 403 403 ok ok"),
        page("get", "/admin/certificates", &[], "login 403 403 403 ok ok"),
        page("get", "/admin/outbox", &[], "login 403 403 403 ok ok"),
        page("post", "/admin/invitations", &[], "login 403 403 403 ok ok"),
        page("post", "/admin/users/{id}/roles", &[User], "login 403 403 403 ok 404").with(&[("roles", "learner")]),
        page("post", "/admin/users/{id}/status", &[User], "login 403 403 403 ok 404").with(&[("status", "active")]),
        page("post", "/admin/outbox/{id}/retry", &[Outbox], "login 403 403 403 ok 404"),
        page("post", "/admin/certificates/{code}/revoke", &[Code], "login 403 403 403 ok 404").with(&[("reason", "Matrix check")]),
        page("post", "/admin/certificates/{code}/reissue", &[Code], "login 403 403 403 ok 404"),
        // Last: it ends the session.
        page("post", "/logout", &[], "login login login login login login"),
    ]
}

#[tokio::test]
async fn every_page_route_answers_each_caller_by_its_rule_in_both_organizations() {
    let world = world().await;
    let app = &world.app;
    let rules = page_rules();
    let table: Vec<(&str, &str)> = rules.iter().map(|r| (r.method, r.path)).collect();
    assert_covers_source(&table, |path| !path.starts_with("/api/"));

    let anonymous = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = anonymous.get(app.url("/login")).send().await.unwrap();
    let anonymous_csrf = crate::pages::csrf_of(&sign_in.text().await.unwrap());
    let mut sessions: HashMap<&str, (reqwest::Client, String)> = HashMap::new();
    for who in &ACTORS[1..] {
        sessions.insert(
            *who,
            crate::auth::page_session(app, &format!("{who}@demo.test")).await,
        );
    }
    let call = |who: &'static str, rule: &'static PageRule, values: &Values| {
        let url = app.url(&fill(rule.path, rule.params, values));
        let (client, csrf) = sessions
            .get(who)
            .cloned()
            .unwrap_or_else(|| (anonymous.clone(), anonymous_csrf.clone()));
        let fresh_url = app.url("/login");
        async move {
            let (client, csrf) = if rule.fresh {
                let client = reqwest::Client::builder()
                    .cookie_store(true)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                let page = client
                    .get(fresh_url)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let csrf = crate::pages::csrf_of(&page);
                (client, csrf)
            } else {
                (client, csrf)
            };
            let request = match (rule.method, rule.multipart) {
                ("get", _) => client.get(url),
                (_, true) => client.post(url).multipart(
                    reqwest::multipart::Form::new()
                        .text("csrf_token", csrf)
                        .text("mode", "merge"),
                ),
                (_, false) => {
                    let mut form = vec![("csrf_token", csrf.as_str())];
                    form.extend(rule.form.iter().copied());
                    client.post(url).form(&form)
                }
            };
            let response = request.send().await.expect("the service answers");
            let to_login = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l.starts_with("/login"));
            (response.status(), to_login)
        }
    };
    let rules: &'static [PageRule] = Box::leak(rules.into_boxed_slice());
    let mut wrong = Vec::new();
    let mut checked = 0;
    for rule in rules {
        let expected: Vec<&str> = rule.expect.split_whitespace().collect();
        assert_eq!(
            expected.len(),
            ACTORS.len(),
            "{} {}",
            rule.method,
            rule.path
        );
        for (who, expect) in ACTORS.iter().zip(&expected) {
            let (status, to_login) = call(who, rule, &world.own).await;
            checked += 1;
            let code = status.as_u16();
            let fine = match *expect {
                "login" => status.is_redirection() && to_login,
                "ok" => code < 500 && !matches!(code, 401 | 403 | 404) && !to_login,
                "pub" => code < 500 && !matches!(code, 401 | 403) && !to_login,
                exact => exact == code.to_string(),
            };
            if !fine {
                wrong.push(format!(
                    "{} {} as {who}: expected {expect}, got {status}{}",
                    rule.method,
                    rule.path,
                    if to_login { " to the sign-in page" } else { "" }
                ));
            }
        }
        if rule.params.iter().any(|k| k.scoped()) && !expected.contains(&"pub") {
            for (who, expect) in ACTORS.iter().zip(&expected) {
                if *expect != "ok" {
                    continue;
                }
                let (status, _) = call(who, rule, &world.foreign).await;
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
        "{} of {checked} page calls broke their rule:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
