//! The catalog: importing content, browsing, enrolment and progress, authoring, isolation.
use std::path::Path;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use talentcert::catalog::import::{import_dir, ImportError, ImportOptions};

use crate::helpers::{
    json, problem_fields, spawn_app, spawn_app_with, AppOptions, TestApp, TestDb,
};

pub fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

const LEVELS: &str = "levels = [{level = 1, indicators = [\"a\"]}, {level = 2, indicators = [\"b\"]}, {level = 3, indicators = [\"c\"]}, {level = 4, indicators = [\"d\"]}, {level = 5, indicators = [\"e\"]}]";

/// A small, valid catalog: one model, two courses, one certification.
pub fn mini_catalog(dir: &Path) {
    write(dir, "competency-models/user-operation.toml", &format!(
        "id = \"user-operation\"\nname = \"User Operation\"\nname_zh = \"用户运营\"\ndescription = \"d\"\ndescription_zh = \"d\"\n\n\
         [[competencies]]\nid = \"uo-rfm\"\nname = \"RFM\"\nname_zh = \"RFM 分层\"\ndescription = \"d\"\ndescription_zh = \"d\"\nvalue_demand = \"user-relationship\"\nbusiness_level = \"operation\"\n{LEVELS}\n\n\
         [[competencies]]\nid = \"uo-churn\"\nname = \"Churn\"\nname_zh = \"流失\"\ndescription = \"d\"\ndescription_zh = \"d\"\nvalue_demand = \"sales-conversion\"\nbusiness_level = \"conversion\"\n{LEVELS}\n"));
    for (code, title, zh, level, comp) in [
        ("uo-101", "RFM Basics", "RFM 入门", 2, "uo-rfm"),
        ("uo-102", "Churn Warning", "流失预警", 3, "uo-churn"),
    ] {
        write(dir, &format!("courses/{code}/course.toml"), &format!(
            "code = \"{code}\"\ntitle = \"{title}\"\ntitle_zh = \"{zh}\"\nsummary = \"About {title}.\"\nsummary_zh = \"关于{zh}。\"\ncategory = \"user-operation\"\narea = \"user-operation\"\nlevel = {level}\nestimated_minutes = 30\n\n[[develops]]\ncompetency = \"{comp}\"\nlevel = {level}\n"));
        for (n, kind) in [
            (1, "operational-skills"),
            (2, "data-and-tools"),
            (3, "practical-case"),
        ] {
            write(dir, &format!("courses/{code}/lessons/0{n}-part-{n}.md"), &format!(
                "+++\ntitle = \"{title} part {n}\"\nkind = \"{kind}\"\nestimated_minutes = 10\n+++\n\n## Part {n}\n\nBody of {code} lesson {n}.\n"));
        }
        write(dir, &format!("courses/{code}/questions.gift"), &format!(
            "// [id:{code}-q01] [tag:competency={comp}] [tag:difficulty=easy]\n::{code}-q01:: Pick one {{=right#yes ~wrong#no}}\n\n\
             // [id:{code}-q02] [tag:competency={comp}] [tag:difficulty=medium]\n::{code}-q02:: True? {{TRUE}}\n"));
    }
    write(dir, "certifications/uo-associate.toml",
        "code = \"uo-associate\"\ncategory = \"user-operation\"\nlevel = 2\ntitle = \"UO Associate\"\ntitle_zh = \"用户运营初级\"\nvalidity_months = 24\nrequired_courses = [\"uo-101\"]\npass_percent = 70\nexcellent_percent = 90\nmax_attempts = 3\ncooldown_hours = 24\ntime_limit_minutes = 45\non_timeout = \"auto-submit\"\ncounted_attempt = \"highest\"\nreview = \"after-submit\"\n\n[[blueprint]]\ncompetency = \"uo-rfm\"\neasy = 1\n");
}

pub async fn count(app: &TestApp, table: &str) -> i64 {
    let db = app.db.connect().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

pub async fn import_mini(
    app: &TestApp,
    dir: &Path,
    force: bool,
) -> Result<talentcert::catalog::import::ImportSummary, ImportError> {
    let db = app.db.connect().await;
    import_dir(&db, dir, ImportOptions { force }, &mut |_, _, _| {}).await
}

pub async fn course_id(app: &TestApp, token: &str, code: &str) -> i64 {
    let list = json(app.get(&format!("/api/v1/courses?q={code}"), token).await).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("no course {code}: {list}"))
}

#[tokio::test]
async fn the_shipped_catalog_imports_at_start_and_again_changes_nothing() {
    let app = spawn_app_with(
        TestDb::fresh().await,
        AppOptions {
            content: true,
            ..Default::default()
        },
    )
    .await;
    let learner = app.token("learner").await;
    let categories = json(app.get("/api/v1/job-categories", &learner).await).await;
    assert_eq!(categories["total"], 7);
    for c in categories["items"].as_array().unwrap() {
        let comps = c["competencies"].as_array().unwrap();
        assert!(
            (6..=10).contains(&comps.len()),
            "{}: {} competencies",
            c["id"],
            comps.len()
        );
        assert_eq!(comps[0]["levels"].as_array().unwrap().len(), 5);
    }
    let courses = json(app.get("/api/v1/courses?limit=200", &learner).await).await;
    assert!(
        courses["total"].as_u64().unwrap() >= 60,
        "{}",
        courses["total"]
    );
    let versions = count(&app, "course_versions").await;
    let questions = count(&app, "questions").await;
    assert!(questions >= 900, "{questions} questions");
    // A second import of the same files writes nothing.
    let db = app.db.connect().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("course-content");
    let summary = import_dir(&db, &dir, ImportOptions::default(), &mut |_, _, _| {})
        .await
        .unwrap();
    assert!(summary.skipped);
    let forced = import_dir(&db, &dir, ImportOptions { force: true }, &mut |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(
        forced.courses_created + forced.courses_updated,
        0,
        "same hashes: {forced:?}"
    );
    assert_eq!(count(&app, "course_versions").await, versions);
    assert_eq!(count(&app, "questions").await, questions);
}

#[tokio::test]
async fn a_changed_lesson_makes_a_new_version_and_a_changed_question_a_new_revision() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    let first = import_mini(&app, dir.path(), false).await.unwrap();
    assert_eq!(
        (
            first.courses_created,
            first.questions_created,
            first.certifications_created
        ),
        (2, 4, 1)
    );
    let learner = app.token("learner").await;
    let id = course_id(&app, &learner, "uo-101").await;
    let v1 = json(app.get(&format!("/api/v1/courses/{id}"), &learner).await).await;
    assert_eq!(v1["version"], 1);
    let old_lesson = v1["lessons"][0]["id"].as_i64().unwrap();

    write(dir.path(), "courses/uo-101/lessons/01-part-1.md", "+++\ntitle = \"RFM Basics part 1\"\nkind = \"operational-skills\"\n+++\n\nRewritten body.\n");
    write(dir.path(), "courses/uo-101/questions.gift", "// [id:uo-101-q01] [tag:competency=uo-rfm] [tag:difficulty=easy]\n::uo-101-q01:: Pick the best one {=right ~wrong}\n\n// [id:uo-101-q02] [tag:competency=uo-rfm] [tag:difficulty=medium]\n::uo-101-q02:: True? {TRUE}\n");
    let second = import_mini(&app, dir.path(), false).await.unwrap();
    assert_eq!((second.courses_updated, second.courses_unchanged), (1, 1));
    assert_eq!(
        (
            second.questions_created,
            second.questions_revised,
            second.questions_retired
        ),
        (0, 1, 0)
    );
    let v2 = json(app.get(&format!("/api/v1/courses/{id}"), &learner).await).await;
    assert_eq!(v2["version"], 2);
    let new_lesson = v2["lessons"][0]["id"].as_i64().unwrap();
    assert_ne!(new_lesson, old_lesson);
    let body = json(
        app.get(&format!("/api/v1/lessons/{new_lesson}"), &learner)
            .await,
    )
    .await;
    assert!(body["body_markdown"]
        .as_str()
        .unwrap()
        .contains("Rewritten"));
    // The old revision stays in the database for the attempts that used it.
    let db = app.db.connect().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM questions WHERE external_id = 'uo-101-q01'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 2);
}

#[tokio::test]
async fn a_broken_catalog_fails_whole_with_every_problem_and_writes_nothing() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let before = (
        count(&app, "courses").await,
        count(&app, "course_versions").await,
        count(&app, "questions").await,
    );
    write(
        dir.path(),
        "courses/uo-101/lessons/02-part-2.md",
        "+++\ntitle = \"Changed\"\nkind = \"data-and-tools\"\n+++\nChanged body.\n",
    );
    write(
        dir.path(),
        "courses/uo-102/questions.gift",
        "// [id:x1] [tag:competency=uo-churn] [tag:difficulty=easy]\nBad {#many}\n",
    );
    write(dir.path(), "courses/uo-103/course.toml", "code = \"uo-103\"\ntitle = \"T\"\ntitle_zh = \"T\"\nsummary = \"S\"\nsummary_zh = \"S\"\ncategory = \"user-operation\"\narea = \"user-operation\"\nlevel = 9\nestimated_minutes = 10\n\n[[develops]]\ncompetency = \"uo-nowhere\"\nlevel = 2\n");
    let Err(ImportError::Content(errors)) = import_mini(&app, dir.path(), false).await else {
        panic!("should fail")
    };
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    assert!(all.contains("courses/uo-102/questions.gift:2:"), "{all}");
    assert!(
        all.contains("courses/uo-103/course.toml:8: level 9"),
        "{all}"
    );
    assert!(
        all.contains("unknown competency id \"uo-nowhere\""),
        "{all}"
    );
    assert!(
        all.contains("courses/uo-103: the course has no lessons"),
        "{all}"
    );
    let after = (
        count(&app, "courses").await,
        count(&app, "course_versions").await,
        count(&app, "questions").await,
    );
    assert_eq!(before, after, "nothing written");
}

#[tokio::test]
async fn courses_are_filtered_by_category_area_competency_level_and_text() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let t = app.token("learner").await;
    let codes = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        codes(json(app.get("/api/v1/courses?competency=uo-churn", &t).await).await),
        vec!["uo-102"]
    );
    assert_eq!(
        codes(json(app.get("/api/v1/courses?level=2", &t).await).await),
        vec!["uo-101"]
    );
    assert_eq!(
        codes(json(app.get("/api/v1/courses?q=流失", &t).await).await),
        vec!["uo-102"]
    );
    assert_eq!(
        codes(json(app.get("/api/v1/courses?q=rfm%20basics", &t).await).await),
        vec!["uo-101"]
    );
    assert_eq!(
        json(
            app.get(
                "/api/v1/courses?category=user-operation&area=user-operation",
                &t
            )
            .await
        )
        .await["total"],
        2
    );
    assert_eq!(
        json(app.get("/api/v1/courses?category=data-operation", &t).await).await["total"],
        0
    );
    assert_eq!(
        json(app.get("/api/v1/courses?q=100%25", &t).await).await["total"],
        0,
        "% is literal"
    );
    let bad = app.get("/api/v1/courses?level=9", &t).await;
    assert_eq!(problem_fields(&json(bad).await), vec!["level"]);
    let card = &json(app.get("/api/v1/courses?q=uo-101", &t).await).await["items"][0];
    assert_eq!(card["lesson_count"], 3);
    assert_eq!(card["competencies"][0]["id"], "uo-rfm");
    assert_eq!(card["owner"], "platform");
    assert!(card["progress_percent"].is_null());
}

#[tokio::test]
async fn enrolment_progress_resume_and_my_learning() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let t = app.token("learner").await;
    let id = course_id(&app, &t, "uo-101").await;
    let enrolled = app
        .post_json(&format!("/api/v1/courses/{id}/enrolment"), &t, &json!({}))
        .await;
    assert_eq!(enrolled.status(), StatusCode::CREATED);
    let again = app
        .post_json(&format!("/api/v1/courses/{id}/enrolment"), &t, &json!({}))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let detail = json(app.get(&format!("/api/v1/courses/{id}"), &t).await).await;
    let lessons: Vec<i64> = detail["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(detail["enrolment"]["progress_percent"], 0);
    assert_eq!(detail["enrolment"]["next_lesson_id"], lessons[0]);

    let done = json(
        app.post_json(
            &format!("/api/v1/lessons/{}/completion", lessons[0]),
            &t,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(done["progress_percent"], 33);
    assert_eq!(done["next_lesson_id"], lessons[1]);
    // Opening the third lesson makes it the place to resume.
    let third = json(
        app.get(&format!("/api/v1/lessons/{}", lessons[2]), &t)
            .await,
    )
    .await;
    assert_eq!(third["previous_lesson_id"], lessons[1]);
    assert!(third["next_lesson_id"].is_null());
    assert!(third["body_html"]
        .as_str()
        .unwrap()
        .contains("<h2>Part 3</h2>"));
    let detail = json(app.get(&format!("/api/v1/courses/{id}"), &t).await).await;
    assert_eq!(detail["enrolment"]["next_lesson_id"], lessons[2]);
    for l in &lessons {
        app.post_json(&format!("/api/v1/lessons/{l}/completion"), &t, &json!({}))
            .await;
    }
    let learning = json(app.get("/api/v1/me/learning", &t).await).await;
    assert_eq!(learning["total"], 1);
    assert_eq!(learning["items"][0]["enrolment"]["progress_percent"], 100);
    assert!(learning["items"][0]["enrolment"]["completed_at"].is_string());
    assert_eq!(learning["items"][0]["course"]["progress_percent"], 100);
    // Another person's progress is their own.
    let hr = app.token("hr").await;
    assert_eq!(
        json(app.get("/api/v1/me/learning", &hr).await).await["total"],
        0
    );
}

#[tokio::test]
async fn trainers_author_publish_and_keep_courses_inside_their_organization() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let trainer = app.token("trainer").await;
    let learner = app.token("learner").await;

    let body = json!({"code": "store-basics", "title": "Store WeCom basics", "summary": "Our own course.", "category": "user-operation", "level": 2, "develops": [{"competency": "uo-rfm", "level": 2}]});
    assert_eq!(
        app.post_json("/api/v1/courses", &learner, &body)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let created = app.post_json("/api/v1/courses", &trainer, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = json(created).await["id"].as_i64().unwrap();
    assert_eq!(
        app.post_json("/api/v1/courses", &trainer, &body)
            .await
            .status(),
        StatusCode::CONFLICT
    );
    let invalid = app.post_json("/api/v1/courses", &trainer, &json!({"code": "Bad Code", "title": "", "summary": "x", "category": "nope", "level": 7, "develops": [{"competency": "zz", "level": 2}]})).await;
    let mut fields = problem_fields(&json(invalid).await);
    fields.sort();
    assert_eq!(fields, vec!["area", "code", "level", "title"]);

    // A draft is invisible to learners; publishing needs a lesson.
    assert_eq!(
        app.get(&format!("/api/v1/courses/{id}"), &learner)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post_json(
            &format!("/api/v1/courses/{id}/publish"),
            &trainer,
            &json!({})
        )
        .await
        .status(),
        StatusCode::CONFLICT
    );
    let lesson = json!({"title": "Adding customers", "kind": "operational-skills", "body_markdown": "## Steps\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n<img src=x onerror=alert(1)>"});
    let put = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/courses/{id}/lessons/adding"),
            &trainer,
            &lesson,
        )
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let bad_kind = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/courses/{id}/lessons/xx"),
            &trainer,
            &json!({"title": "x", "kind": "lecture", "body_markdown": "x"}),
        )
        .await;
    assert_eq!(problem_fields(&json(bad_kind).await), vec!["kind"]);
    let published = json(
        app.post_json(
            &format!("/api/v1/courses/{id}/publish"),
            &trainer,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(published["version"], 1);
    let detail = json(app.get(&format!("/api/v1/courses/{id}"), &learner).await).await;
    assert_eq!(detail["owner"], "organization");
    let lesson_id = detail["lessons"][0]["id"].as_i64().unwrap();
    let read = json(
        app.get(&format!("/api/v1/lessons/{lesson_id}"), &learner)
            .await,
    )
    .await;
    let html = read["body_html"].as_str().unwrap().to_lowercase();
    assert!(
        !html.contains("<script") && !html.contains("javascript:") && !html.contains("onerror"),
        "{html}"
    );

    // Editing after publishing goes to a new draft; learners keep seeing version 1 until published.
    let edit = json!({"title": "Adding customers", "kind": "operational-skills", "body_markdown": "Version two."});
    app.send_json(
        Method::PUT,
        &format!("/api/v1/courses/{id}/lessons/adding"),
        &trainer,
        &edit,
    )
    .await;
    let still = json(
        app.get(&format!("/api/v1/lessons/{lesson_id}"), &learner)
            .await,
    )
    .await;
    assert!(!still["body_markdown"]
        .as_str()
        .unwrap()
        .contains("Version two"));
    let draft = json(
        app.get(&format!("/api/v1/courses/{id}?version=draft"), &trainer)
            .await,
    )
    .await;
    assert!(draft["has_draft"].as_bool().unwrap());
    assert_eq!(
        json(
            app.post_json(
                &format!("/api/v1/courses/{id}/publish"),
                &trainer,
                &json!({})
            )
            .await
        )
        .await["version"],
        2
    );

    // Another organization sees none of it.
    let platform = app.token("platform").await;
    assert_eq!(
        app.get(&format!("/api/v1/courses/{id}"), &platform)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/lessons/{lesson_id}"), &platform)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/courses/{id}/lessons/adding"),
            &platform,
            &edit
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/courses/{id}/questions.gift"), &platform)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let list = json(app.get("/api/v1/courses?q=store", &platform).await).await;
    assert_eq!(list["total"], 0);

    // The platform's courses are read-only for an organization's trainer: copy to adapt.
    let platform_course = course_id(&app, &trainer, "uo-101").await;
    let denied = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/courses/{platform_course}/lessons/xx"),
            &trainer,
            &edit,
        )
        .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(json(denied).await["detail"]
        .as_str()
        .unwrap()
        .contains("copy the course"));
    let copy = app
        .post_json(
            &format!("/api/v1/courses/{platform_course}/copy"),
            &trainer,
            &json!({"code": "our-rfm"}),
        )
        .await;
    assert_eq!(copy.status(), StatusCode::CREATED);
    let copy_id = json(copy).await["id"].as_i64().unwrap();
    let copied = json(
        app.get(&format!("/api/v1/courses/{copy_id}"), &trainer)
            .await,
    )
    .await;
    assert_eq!(copied["lessons"].as_array().unwrap().len(), 3);
    assert_eq!(copied["question_count"], 2);
}

#[tokio::test]
async fn question_banks_round_trip_as_gift_and_errors_name_lines() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let platform = app.token("platform").await;
    let id = course_id(&app, &platform, "uo-101").await;
    let gift = app
        .get(&format!("/api/v1/courses/{id}/questions.gift"), &platform)
        .await;
    assert_eq!(gift.status(), StatusCode::OK);
    let text = gift.text().await.unwrap();
    assert!(
        text.contains("[id:uo-101-q01]") && text.contains("=right#yes"),
        "{text}"
    );
    let learner = app.token("learner").await;
    assert_eq!(
        app.get(&format!("/api/v1/courses/{id}/questions.gift"), &learner)
            .await
            .status(),
        StatusCode::FORBIDDEN,
        "answers stay with trainers"
    );

    let put = |body: String| {
        let app = &app;
        let platform = platform.clone();
        async move {
            app.api
                .put(app.url(&format!("/api/v1/courses/{id}/questions.gift")))
                .bearer_auth(&platform)
                .header("content-type", "text/plain")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let same = json(put(text.clone()).await).await;
    assert_eq!(
        (
            same["created"].as_u64(),
            same["revised"].as_u64(),
            same["retired"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    let extended = format!(
        "{text}// [tag:competency=uo-rfm] [tag:difficulty=hard]\nHow many R bands? {{#5}}\n"
    );
    let added = json(put(extended).await).await;
    assert_eq!(added["created"], 1);
    assert_eq!(added["total"], 3);
    let broken = "// [id:a] [tag:competency=uo-rfm] [tag:difficulty=easy]\nQ {#x}\n\n// [id:b] [tag:competency=uo-churn] [tag:difficulty=easy]\nQ2 {T}\n\n// [id:c] [tag:competency=uo-rfm]\nQ3 {F}\n";
    let response = put(broken.to_string()).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = json(response).await;
    assert_eq!(problem_fields(&problem), vec!["line 2"]);
    let response = put(broken.replace("{#x}", "{#1}")).await;
    let fields = problem_fields(&json(response).await);
    assert_eq!(
        fields,
        vec!["line 5", "line 8"],
        "wrong competency, missing difficulty"
    );
    assert_eq!(
        count(
            &app,
            "questions WHERE is_current = true AND external_id = 'a'"
        )
        .await,
        0,
        "nothing half-written"
    );
}

#[tokio::test]
async fn an_import_does_not_overwrite_a_course_edited_in_the_pages_unless_forced() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let platform = app.token("platform").await;
    let id = course_id(&app, &platform, "uo-102").await;
    let edit = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/courses/{id}"),
            &platform,
            &json!({"title": "Churn Warning (edited)"}),
        )
        .await;
    assert_eq!(edit.status(), StatusCode::OK);
    write(
        dir.path(),
        "courses/uo-102/course.toml",
        &std::fs::read_to_string(dir.path().join("courses/uo-102/course.toml"))
            .unwrap()
            .replace("Churn Warning", "Churn Warning v2"),
    );
    let summary = import_mini(&app, dir.path(), false).await.unwrap();
    assert_eq!(summary.conflicts, vec!["uo-102".to_string()]);
    let learner = app.token("learner").await;
    assert_eq!(
        json(app.get(&format!("/api/v1/courses/{id}"), &learner).await).await["title"],
        "Churn Warning (edited)"
    );
    let forced = import_mini(&app, dir.path(), true).await.unwrap();
    assert!(forced.conflicts.is_empty());
    assert_eq!(
        json(app.get(&format!("/api/v1/courses/{id}"), &learner).await).await["title"],
        "Churn Warning v2"
    );
}

/// A page's text for a signed-in client.
async fn page(client: &reqwest::Client, url: String) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_learner_browses_enrols_reads_and_completes_in_the_pages() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let (client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let catalog = page(&client, app.url("/catalog?category=user-operation&level=3")).await;
    assert!(
        catalog.contains("Churn Warning") && !catalog.contains("RFM Basics"),
        "filtered"
    );
    let token = app.token("learner").await;
    let id = course_id(&app, &token, "uo-101").await;
    let course = page(&client, app.url(&format!("/courses/{id}"))).await;
    assert!(course.contains("Start this course"));
    let csrf = crate::pages::csrf_of(&course);
    let enrol = client
        .post(app.url(&format!("/courses/{id}/enrol")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(enrol.status(), StatusCode::SEE_OTHER);
    let first = enrol.headers()["location"].to_str().unwrap().to_string();
    assert!(first.starts_with("/lessons/"));
    let lesson = page(&client, app.url(&first)).await;
    assert!(lesson.contains("<h2>Part 1</h2>") && lesson.contains("Lesson 1 of 3"));
    let done = client
        .post(app.url(&format!("{first}/complete")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let learning = page(&client, app.url("/learning")).await;
    assert!(learning.contains("1 of 3 lessons completed"), "{learning}");
    assert!(learning.contains("aria-valuenow=\"33\""));
    // In Chinese, titles switch too.
    let zh = client
        .get(app.url("/catalog"))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(zh.contains("RFM 入门") || zh.contains("RFM Basics"));
}

#[tokio::test]
async fn a_trainer_builds_a_course_in_the_pages() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let (client, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let home = page(&client, app.url("/trainer")).await;
    let csrf = crate::pages::csrf_of(&home);
    let created = client
        .post(app.url("/trainer/courses"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", "guide-wecom"),
            ("title", "WeCom for store guides"),
            ("summary", "Adding and tagging customers."),
            ("category", "user-operation"),
            ("area", "user-operation"),
            ("level", "2"),
            ("competency", "uo-rfm"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let editor_url = created.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = editor_url.rsplit('/').next().unwrap().parse().unwrap();
    // Preview renders without saving; the preview is sanitised.
    let preview = client
        .post(app.url(&format!("/trainer/courses/{id}/lesson")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("slug", "adding"),
            ("title", "Adding customers"),
            ("kind", "operational-skills"),
            ("estimated_minutes", "12"),
            ("body_markdown", "## Steps\n\n<script>alert(1)</script>"),
            ("action", "preview"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), StatusCode::OK);
    let html = preview.text().await.unwrap();
    assert!(html.contains("<h2>Steps</h2>") && !html.contains("<script>alert(1)</script>"));
    let saved = client
        .post(app.url(&format!("/trainer/courses/{id}/lesson")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("slug", "adding"),
            ("title", "Adding customers"),
            ("kind", "operational-skills"),
            ("estimated_minutes", "12"),
            ("body_markdown", "## Steps\n\nAsk first."),
            ("action", "save"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    // A bank with a broken line is refused with the line named.
    let bad = client
        .post(app.url(&format!("/trainer/courses/{id}/questions")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            (
                "gift",
                "// [tag:competency=uo-rfm] [tag:difficulty=easy]\nQ {#abc}\n",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("line 2"));
    let good = client
        .post(app.url(&format!("/trainer/courses/{id}/questions")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            (
                "gift",
                "// [tag:competency=uo-rfm] [tag:difficulty=easy]\nAsk before adding? {TRUE}\n",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::SEE_OTHER);
    let details = client
        .post(app.url(&format!("/trainer/courses/{id}/details")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("title", "WeCom for store guides, 2nd ed."),
            ("title_zh", "导购企业微信"),
            ("summary", "Adding and tagging."),
            ("summary_zh", ""),
            ("level", "9"),
            ("estimated_minutes", "40"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        details.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "level 9 is refused"
    );
    let details = client
        .post(app.url(&format!("/trainer/courses/{id}/details")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("title", "WeCom for store guides, 2nd ed."),
            ("title_zh", "导购企业微信"),
            ("summary", "Adding and tagging."),
            ("summary_zh", ""),
            ("level", "3"),
            ("estimated_minutes", "40"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(details.status(), StatusCode::SEE_OTHER);
    let publish = client
        .post(app.url(&format!("/trainer/courses/{id}/publish")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(publish.status(), StatusCode::SEE_OTHER);
    let editor = page(
        &client,
        app.url(&format!("/trainer/courses/{id}?notice=published")),
    )
    .await;
    assert!(
        editor.contains("Question bank (1 questions)") && editor.contains("guide-wecom-q01"),
        "{editor}"
    );
    let learner = app.token("learner").await;
    let course = json(app.get(&format!("/api/v1/courses/{id}"), &learner).await).await;
    assert_eq!(course["lessons"][0]["title"], "Adding customers");
    assert_eq!(course["title"], "WeCom for store guides, 2nd ed.");
    assert_eq!(course["level"], 3);
    // Learners cannot open the authoring pages.
    let (learner_client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    assert_eq!(
        learner_client
            .get(app.url("/trainer"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn page_edits_export_back_to_files_and_import_cleanly() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let platform = app.token("platform").await;
    let id = course_id(&app, &platform, "uo-101").await;
    let edit = json!({"title": "Scoring R", "kind": "data-and-tools", "body_markdown": "## Scoring\\n\\nEdited in the page."});
    assert_eq!(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/courses/{id}/lessons/part-2"),
            &platform,
            &edit
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_eq!(
        json(
            app.post_json(
                &format!("/api/v1/courses/{id}/publish"),
                &platform,
                &json!({})
            )
            .await
        )
        .await["version"],
        2
    );

    let db = app.db.connect().await;
    let course = talentcert::catalog::service::editable_course(
        &db,
        &talentcert::catalog::service::Viewer {
            user_id: 0,
            org_id: 1,
            platform_org_id: 1,
            is_trainer: true,
        },
        id,
    )
    .await
    .unwrap();
    talentcert::catalog::export::export_course(&db, &course, dir.path())
        .await
        .unwrap();
    let lesson =
        std::fs::read_to_string(dir.path().join("courses/uo-101/lessons/02-part-2.md")).unwrap();
    assert!(
        lesson.contains("Edited in the page.") && lesson.contains("kind = \"data-and-tools\""),
        "{lesson}"
    );
    let gift = std::fs::read_to_string(dir.path().join("courses/uo-101/questions.gift")).unwrap();
    assert!(gift.contains("[id:uo-101-q01]"));
    // The exported files load, and importing them is no conflict and no change.
    let summary = import_mini(&app, dir.path(), false).await.unwrap();
    assert!(summary.conflicts.is_empty(), "{summary:?}");
    assert_eq!(summary.courses_updated, 0, "{summary:?}");
}

#[tokio::test]
async fn a_blueprint_the_banks_cannot_fill_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    write(dir.path(), "certifications/too-big.toml",
        "code = \"too-big\"\ncategory = \"user-operation\"\nlevel = 2\ntitle = \"T\"\ntitle_zh = \"T\"\nvalidity_months = 24\npass_percent = 70\nexcellent_percent = 90\nmax_attempts = 3\ncooldown_hours = 24\ntime_limit_minutes = 45\non_timeout = \"auto-submit\"\ncounted_attempt = \"highest\"\nreview = \"none\"\n\n[[blueprint]]\ncompetency = \"uo-rfm\"\nhard = 3\n");
    let Err(errors) = talentcert::catalog::content::load(dir.path()) else {
        panic!("should fail")
    };
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        all.iter().any(|e| e.contains("certifications/too-big.toml")
            && e.contains("uo-rfm hard draws 3 and the published banks hold 0")),
        "{all:?}"
    );
}

#[tokio::test]
async fn answers_survive_a_restart_mid_attempt() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    write(dir.path(), "certifications/uo-open.toml",
        "code = \"uo-open\"\ncategory = \"user-operation\"\nlevel = 2\ntitle = \"UO Open\"\ntitle_zh = \"开放\"\nvalidity_months = 24\npass_percent = 70\nexcellent_percent = 90\nmax_attempts = 2\ncooldown_hours = 24\ntime_limit_minutes = 30\non_timeout = \"auto-submit\"\ncounted_attempt = \"highest\"\nreview = \"none\"\n\n[[blueprint]]\ncompetency = \"uo-rfm\"\neasy = 1\nmedium = 1\n");
    import_mini(&app, dir.path(), false).await.unwrap();
    let learner = app.token("learner").await;
    let certs = json(app.get("/api/v1/certifications", &learner).await).await;
    let id = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "uo-open")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let attempt = json(
        app.post_json(
            &format!("/api/v1/certifications/{id}/attempts"),
            &learner,
            &json!({}),
        )
        .await,
    )
    .await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let q = &attempt["questions"][0];
    let answer = match q["answer"]["type"].as_str().unwrap() {
        "true_false" => json!(true),
        // The second option, by the id this attempt shows.
        _ => q["answer"]["options"][1]["id"].clone(),
    };
    let saved = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/attempts/{attempt_id}/answers/{}", q["id"]),
            &learner,
            &answer,
        )
        .await;
    assert_eq!(saved.status(), StatusCode::NO_CONTENT);
    let db = app.stop().await;
    let again = spawn_app_with(db, AppOptions::default()).await;
    let view = json(
        again
            .get(&format!("/api/v1/attempts/{attempt_id}"), &learner)
            .await,
    )
    .await;
    assert_eq!(view["status"], "open");
    assert_eq!(
        view["questions"][0]["response"], answer,
        "an acknowledged answer is kept"
    );
    let resumed = again
        .post_json(
            &format!("/api/v1/certifications/{id}/attempts"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(resumed.status(), StatusCode::OK);
    assert_eq!(json(resumed).await["id"], attempt_id);
}

#[tokio::test]
async fn trainers_add_questions_of_every_type_with_the_question_editor() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let trainer = app.token("trainer").await;
    let body = json!({"code": "store-qe", "title": "Question editor", "summary": "s", "category": "user-operation", "level": 2, "develops": [{"competency": "uo-rfm", "level": 2}]});
    let id = json(app.post_json("/api/v1/courses", &trainer, &body).await).await["id"]
        .as_i64()
        .unwrap();
    let (client, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let editor = client
        .get(app.url(&format!("/trainer/courses/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        editor.contains("Add a question with the editor"),
        "{editor}"
    );
    let csrf = crate::pages::csrf_of(&editor);
    let base = |ty: &'static str, text: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("type", ty.to_string()),
            ("text", text.to_string()),
            ("competency", "uo-rfm".to_string()),
            ("difficulty", "easy".to_string()),
        ]
    };
    let mut forms = Vec::new();
    let mut single = base("single_choice", "Which customers are champions?");
    single.extend([
        ("option", "Recent, frequent, high spend".into()),
        ("mark", "100".into()),
        ("option", "Lapsed".into()),
        ("mark", "0".into()),
    ]);
    forms.push(single);
    let mut multiple = base("multiple_choice", "Which are RFM inputs?");
    multiple.extend([
        ("option", "Recency".into()),
        ("mark", "50".into()),
        ("option", "Frequency".into()),
        ("mark", "50".into()),
        ("option", "Height".into()),
        ("mark", "-100".into()),
    ]);
    forms.push(multiple);
    let mut truth = base("true_false", "RFM needs purchase history.");
    truth.push(("truth", "true".into()));
    forms.push(truth);
    let mut short = base("short_answer", "The R in RFM stands for?");
    short.push(("answers", "Recency\nrecent purchase".into()));
    forms.push(short);
    let mut number = base("numerical", "How many RFM dimensions are there?");
    number.extend([("value", "3".into()), ("tolerance", "0".into())]);
    forms.push(number);
    let mut matching = base("matching", "Match the letter to its meaning.");
    matching.extend([
        ("left", "R".into()),
        ("right", "Recency".into()),
        ("left", "F".into()),
        ("right", "Frequency".into()),
        ("left", "M".into()),
        ("right", "Monetary".into()),
    ]);
    forms.push(matching);
    forms.push(base(
        "essay",
        "Describe how you would use RFM in your store.",
    ));
    for form in &forms {
        let saved = client
            .post(app.url(&format!("/trainer/courses/{id}/question")))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), StatusCode::SEE_OTHER, "{:?}", form[1]);
    }
    let gift = app
        .get(&format!("/api/v1/courses/{id}/questions.gift"), &trainer)
        .await
        .text()
        .await
        .unwrap();
    let parsed = talentcert::assessment::gift::parse(&gift).unwrap();
    let types: Vec<&str> = parsed.iter().map(|q| q.kind.type_name()).collect();
    assert_eq!(
        types,
        vec![
            "single_choice",
            "multiple_choice",
            "true_false",
            "short_answer",
            "numerical",
            "matching",
            "essay"
        ]
    );
    // A choice question without options is refused with the reason, and nothing is added.
    let empty = client
        .post(app.url(&format!("/trainer/courses/{id}/question")))
        .form(&base("single_choice", "No options?"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let after = app
        .get(&format!("/api/v1/courses/{id}/questions.gift"), &trainer)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        talentcert::assessment::gift::parse(&after).unwrap().len(),
        7
    );
}

#[tokio::test]
async fn question_banks_go_out_and_come_back_as_moodle_xml() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let platform = app.token("platform").await;
    let id = course_id(&app, &platform, "uo-101").await;
    let exported = app
        .get(&format!("/api/v1/courses/{id}/questions.xml"), &platform)
        .await;
    assert_eq!(exported.status(), StatusCode::OK);
    assert!(exported.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    let xml = exported.text().await.unwrap();
    assert!(xml.contains("<idnumber>uo-101-q01</idnumber>"), "{xml}");
    assert!(xml.contains("<text>competency=uo-rfm</text>"), "{xml}");
    let put = |body: String| {
        let app = &app;
        let platform = platform.clone();
        async move {
            app.api
                .put(app.url(&format!("/api/v1/courses/{id}/questions.xml")))
                .bearer_auth(&platform)
                .header("content-type", "application/xml")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // The same bank back: nothing changes.
    let same = put(xml.clone()).await;
    assert_eq!(same.status(), StatusCode::OK);
    let same = json(same).await;
    assert_eq!(
        (
            same["created"].as_i64(),
            same["revised"].as_i64(),
            same["retired"].as_i64()
        ),
        (Some(0), Some(0), Some(0)),
        "{same}"
    );
    // An edited answer is a new revision, as with GIFT.
    let edited = put(xml.replace("<text>wrong</text>", "<text>wrong, edited</text>")).await;
    assert_eq!(json(edited).await["revised"], 1);
    // A type GIFT cannot hold is refused by name and line; nothing is written.
    let cloze = xml.replace(
        "</quiz>",
        "  <question type=\"cloze\"><name><text>c</text></name><questiontext format=\"html\"><text>{1:SHORTANSWER:=x}</text></questiontext></question>\n</quiz>",
    );
    let refused = put(cloze).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = json(refused).await;
    assert!(problem.to_string().contains("cloze"), "{problem}");
    assert!(
        problem_fields(&problem)[0].starts_with("line "),
        "{problem}"
    );
    // The same checks as a GIFT upload: a question without its competency tag.
    let untagged = xml.replace("<text>competency=uo-rfm</text>", "<text>topic=rfm</text>");
    assert_eq!(
        put(untagged).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Not well-formed, or with a DTD: a 422 naming the position.
    for bad in [
        "<quiz><question",
        "<!DOCTYPE quiz [<!ENTITY x \"y\">]><quiz>&x;</quiz>",
    ] {
        let response = put(bad.to_string()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let learner = app.token("learner").await;
    assert_eq!(
        app.get(&format!("/api/v1/courses/{id}/questions.xml"), &learner)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

/// A workbook from rows of cells (the first row is the header).
fn workbook(rows: &[Vec<&str>]) -> Vec<u8> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    talentcert::export::xlsx_bytes(&[("questions", &rows)]).unwrap()
}

#[tokio::test]
async fn question_banks_go_out_and_come_back_as_excel_and_bad_rows_are_named() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let platform = app.token("platform").await;
    let id = course_id(&app, &platform, "uo-101").await;
    let url = format!("/api/v1/courses/{id}/questions.xlsx");
    let exported = app.get(&url, &platform).await;
    assert_eq!(exported.status(), StatusCode::OK);
    assert_eq!(
        exported.headers()["content-type"],
        talentcert::export::XLSX_TYPE
    );
    let bytes = exported.bytes().await.unwrap().to_vec();
    let rows = crate::study::xlsx_rows(bytes.clone());
    assert_eq!(
        rows[0][..8].to_vec(),
        [
            "type",
            "stem",
            "options",
            "answer",
            "score",
            "competency",
            "difficulty",
            "explanation"
        ]
    );
    assert!(
        rows.iter()
            .any(|r| r[8] == "uo-101-q01" && r[5] == "uo-rfm"),
        "{rows:?}"
    );
    let put = |body: Vec<u8>| {
        let app = &app;
        let platform = platform.clone();
        let url = url.clone();
        async move {
            app.api
                .put(app.url(&url))
                .bearer_auth(&platform)
                .header("content-type", talentcert::export::XLSX_TYPE)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // The same bank back: nothing changes.
    let same = json(put(bytes).await).await;
    assert_eq!(
        (
            same["created"].as_i64(),
            same["revised"].as_i64(),
            same["retired"].as_i64()
        ),
        (Some(0), Some(0), Some(0)),
        "{same}"
    );
    // Every bad row named by its row (and column); nothing written.
    let header = vec![
        "题型", "题干", "选项", "答案", "分值", "能力", "难度", "解析",
    ];
    let bad = workbook(&[
        header.clone(),
        vec![
            "单选",
            "Which greeting adds the visitor?",
            "Scan the QR code\nAsk for a phone number",
            "C",
            "1",
            "uo-rfm",
            "易",
            "",
        ],
        vec!["riddle", "What?", "", "", "", "uo-rfm", "easy", ""],
        vec![
            "判断",
            "RFM stands for recency, frequency, monetary.",
            "",
            "maybe",
            "",
            "uo-rfm",
            "easy",
            "",
        ],
        vec![
            "多选", "Pick two", "a\nb\nc", "AC", "-3", "uo-churn", "hard", "",
        ],
    ]);
    let questions_before = count(&app, "questions").await;
    let refused = put(bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields = problem_fields(&json(refused).await);
    assert_eq!(
        fields,
        vec!["row 2", "row 3", "row 4", "row 5"],
        "{fields:?}"
    );
    assert_eq!(
        count(&app, "questions").await,
        questions_before,
        "nothing written"
    );
    let before = json(app.get(&format!("/api/v1/courses/{id}"), &platform).await).await;
    // A good workbook in Chinese headers: questions of every kind, with marks.
    let good = workbook(&[
        header,
        vec![
            "单选",
            "Which greeting adds the visitor?",
            "Scan the store QR code # Right: it adds them\nAsk for a phone number",
            "A",
            "2",
            "uo-rfm",
            "易",
            "Adding on WeCom comes first.",
        ],
        vec![
            "多选",
            "Which are RFM dimensions?",
            "Recency\nFrequency\nColour",
            "AB",
            "",
            "uo-rfm",
            "中",
            "",
        ],
        vec![
            "判断",
            "RFM stands for recency, frequency, monetary.",
            "wrong: Look again at the letters.",
            "对",
            "",
            "uo-rfm",
            "易",
            "",
        ],
        vec![
            "填空",
            "The R in RFM is ____.",
            "",
            "recency\nrecent [50]",
            "",
            "uo-rfm",
            "难",
            "",
        ],
        vec![
            "数值",
            "How many RFM segments does a 3-level score give?",
            "",
            "27±0",
            "",
            "uo-rfm",
            "hard",
            "",
        ],
        vec![
            "匹配",
            "Match the letter.",
            "R => recency\nF => frequency\n=> colour",
            "",
            "",
            "uo-rfm",
            "medium",
            "",
        ],
    ]);
    let imported = put(good).await;
    assert_eq!(imported.status(), StatusCode::OK);
    let summary = json(imported).await;
    assert_eq!(summary["total"], 6, "{summary} {before}");
    // Rows without an id take the course's next ids: they revise the questions with those.
    assert_eq!(
        summary["created"].as_i64().unwrap() + summary["revised"].as_i64().unwrap(),
        6,
        "{summary}"
    );
    // The score column is the question's marks in an exam.
    let gift = app
        .get(&format!("/api/v1/courses/{id}/questions.gift"), &platform)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        gift.contains("points=2") && gift.contains("%50%recent"),
        "{gift}"
    );
    // Learners and other organizations' trainers cannot read the bank.
    let learner = app.token("learner").await;
    assert_eq!(
        app.get(&url, &learner).await.status(),
        StatusCode::FORBIDDEN
    );
}
