//! Gap analysis: roster import (encodings, preview, problems, full mode), positions, evidence,
//! level rules, person / department / organization reports, learning paths, who sees what.
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::catalog::{count, import_mini, mini_catalog};
use crate::helpers::{json, problem_fields, spawn_app, TestApp};

pub async fn gap_app() -> (TestApp, tempfile::TempDir, String) {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let hr = app.token("hr").await;
    let position = app
        .post_json(
            "/api/v1/positions",
            &hr,
            &json!({"code": "member-ops", "name": "Member operator", "name_zh": "会员运营", "category": "user-operation", "headcount": 3, "level": 2,
                    "requirements": [{"competency": "uo-churn", "level": 3, "weight": 2.0}]}),
        )
        .await;
    assert_eq!(position.status(), StatusCode::CREATED);
    (app, dir, hr)
}

async fn roster(app: &TestApp, hr: &str, query: &str, body: Vec<u8>) -> reqwest::Response {
    app.api
        .post(app.url(&format!("/api/v1/roster?{query}")))
        .bearer_auth(hr)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap()
}

pub const ROSTER: &str =
    "employee_id,name,email,department,manager_employee_id,position,language\n\
E100,Chen Jing,chen.jing@demo.test,Store 1,,member-ops,zh-CN\n\
E101,\"Zhao, Lei\",zhao.lei@demo.test,Store 1,E100,member-ops,\n\
E102,王芳,wang.fang@demo.test,Store 1,E101,member-ops,zh-CN\n";

#[tokio::test]
async fn a_roster_is_previewed_then_committed_all_or_nothing_and_invites_new_people() {
    let (app, _dir, hr) = gap_app().await;
    let users_before = count(&app, "users").await;
    // The preview (the default) names what would happen and changes nothing.
    let preview = json(roster(&app, &hr, "", ROSTER.as_bytes().to_vec()).await).await;
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["created"].as_array().unwrap().len(), 3, "{preview}");
    assert!(
        preview["problems"].as_array().unwrap().is_empty(),
        "{preview}"
    );
    assert_eq!(count(&app, "users").await, users_before);
    // Chinese Excel saves GB18030; with a BOM or without, UTF-8 reads the same.
    let (gb, _, _) = encoding_rs::GB18030.encode(ROSTER);
    let preview = json(roster(&app, &hr, "dry_run=true", gb.to_vec()).await).await;
    assert_eq!(preview["encoding"], "gb18030");
    assert_eq!(preview["created"][2]["name"], "王芳");
    let committed = json(roster(&app, &hr, "dry_run=false", gb.to_vec()).await).await;
    assert_eq!(committed["created"].as_array().unwrap().len(), 3);
    assert_eq!(count(&app, "users").await, users_before + 3);
    let db = app.db.connect().await;
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM email_outbox WHERE kind = 'invitation'".to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<i64>("", "n").unwrap(),
        3,
        "each new person is invited"
    );
    // The same file again changes nothing.
    let again = json(roster(&app, &hr, "dry_run=false", ROSTER.as_bytes().to_vec()).await).await;
    assert_eq!(again["unchanged"], 3, "{again}");
    // The export reads back in the import's format.
    let export = app.get("/api/v1/roster", &hr).await.text().await.unwrap();
    assert!(
        export.contains("E102,王芳,wang.fang@demo.test,Store 1,E101,member-ops,zh-CN"),
        "{export}"
    );

    // Every problem by line and column; a commit with problems writes nothing.
    let bad = "employee_id,name,email,department,manager_employee_id,position\n\
E200,Ok Person,ok@demo.test,Store 2,,member-ops\n\
E201,Taken,platform@demo.test,Store 2,,\n\
E202,No Such Position,p@demo.test,Store 2,,cashier\n\
E203,No Such Manager,m@demo.test,Store 2,E999,\n\
E200,Duplicate,d@demo.test,Store 2,,\n\
E204,Loop A,a@demo.test,Store 2,E205,\n\
E205,Loop B,b@demo.test,Store 2,E204,\n";
    let preview = json(roster(&app, &hr, "dry_run=true", bad.as_bytes().to_vec()).await).await;
    let cells: Vec<(i64, String)> = preview["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["line"].as_i64().unwrap(),
                p["column"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        (3, "email"),
        (4, "position"),
        (5, "manager_employee_id"),
        (6, "employee_id"),
        (7, "manager_employee_id"),
        (8, "manager_employee_id"),
    ] {
        assert!(
            cells.contains(&(expected.0, expected.1.to_string())),
            "{expected:?} in {cells:?}"
        );
    }
    let taken = preview["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["line"] == 3)
        .unwrap();
    assert_eq!(
        taken["message"],
        "This email address is already used by another account."
    );
    let refused = roster(&app, &hr, "dry_run=false", bad.as_bytes().to_vec()).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem_fields(&json(refused).await).contains(&"line 4: position".to_string()));
    assert_eq!(
        count(&app, "users").await,
        users_before + 3,
        "nothing written"
    );
    let not_text = roster(&app, &hr, "", vec![0xff, 0xfe, 0x00, 0xd8]).await;
    assert_eq!(not_text.status(), StatusCode::BAD_REQUEST);

    // The trainer (staff) joins Store 1; a preview shows what a change would update.
    let with_trainer = format!("{ROSTER}T9,Trainer,trainer@demo.test,Store 1,,member-ops,\n");
    let merged = roster(&app, &hr, "dry_run=false", with_trainer.into_bytes()).await;
    assert_eq!(merged.status(), StatusCode::OK);
    let moved = ROSTER.replace(
        "E101,\"Zhao, Lei\",zhao.lei@demo.test,Store 1",
        "E101,\"Zhao, Lei\",zhao.lei@demo.test,Store 2",
    );
    let preview = json(roster(&app, &hr, "dry_run=true", moved.into_bytes()).await).await;
    assert_eq!(preview["updated"].as_array().unwrap().len(), 1, "{preview}");
    assert_eq!(
        preview["updated"][0]["fields"],
        json!(["department"]),
        "{preview}"
    );
    // A full import of Store 1 without Wang Fang (and without the trainer): the preview lists
    // only her, and changes nothing; the commit deactivates her, never the trainer (staff).
    let without = ROSTER.lines().take(3).collect::<Vec<_>>().join("\n");
    let active_before =
        json(app.get("/api/v1/gaps/organization", &hr).await).await["people"].clone();
    let dry = json(
        roster(
            &app,
            &hr,
            "dry_run=true&mode=full",
            without.clone().into_bytes(),
        )
        .await,
    )
    .await;
    assert_eq!(dry["deactivated"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(dry["deactivated"][0]["name"], "王芳");
    let still = json(app.get("/api/v1/gaps/organization", &hr).await).await;
    assert_eq!(
        still["people"], active_before,
        "the preview deactivates nobody"
    );
    let full = json(roster(&app, &hr, "dry_run=false&mode=full", without.into_bytes()).await).await;
    assert_eq!(full["deactivated"].as_array().unwrap().len(), 1, "{full}");
    assert_eq!(full["deactivated"][0]["name"], "王芳");
    let trainer = app.token("trainer").await;
    assert_eq!(
        app.get("/api/v1/me", &trainer).await.status(),
        StatusCode::OK,
        "staff stay active"
    );
    // Learners cannot import.
    let learner = app.token("learner").await;
    assert_eq!(
        roster(&app, &learner, "", ROSTER.as_bytes().to_vec())
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

async fn user_id(app: &TestApp, admin: &str, email: &str) -> i64 {
    let users = json(app.get(&format!("/api/v1/users?q={email}"), admin).await).await;
    users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn gaps_from_evidence_roll_up_to_departments_and_the_organization() {
    let (app, _dir, hr) = gap_app().await;
    // The demo learner and trainer join Store 1: the trainer manages the learner.
    let staff = "employee_id,name,email,department,manager_employee_id,position\n\
T1,Trainer,trainer@demo.test,Store 1,,member-ops\n\
L1,Li Na,learner@demo.test,Store 1,T1,member-ops\n";
    let done = roster(&app, &hr, "dry_run=false", staff.as_bytes().to_vec()).await;
    assert_eq!(
        done.status(),
        StatusCode::OK,
        "{}",
        done.text().await.unwrap()
    );
    let admin = app.token("admin").await;
    let learner_id = user_id(&app, &admin, "learner@demo.test").await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    // The manager rates, the learner rates herself; HR records outside training.
    let rate = |token: String, body: Value| {
        let app = &app;
        async move { app.post_json("/api/v1/evidence", &token, &body).await }
    };
    let r = rate(trainer.clone(), json!({"user_id": learner_id, "competency": "uo-rfm", "level": 2, "source": "manager", "note": "Runs the monthly RFM review"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = rate(
        learner.clone(),
        json!({"user_id": learner_id, "competency": "uo-churn", "level": 3, "source": "self"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = rate(
        learner.clone(),
        json!({"user_id": learner_id, "competency": "uo-churn", "level": 5, "source": "manager"}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no one manages themselves"
    );
    let r = rate(
        hr.clone(),
        json!({"user_id": learner_id, "competency": "uo-churn", "level": 2, "source": "external"}),
    )
    .await;
    assert_eq!(problem_fields(&json(r).await), vec!["provider"]);

    let gap = json(
        app.get(&format!("/api/v1/gaps/people/{learner_id}"), &learner)
            .await,
    )
    .await;
    assert_eq!(gap["position"], "member-ops");
    let churn = gap["competencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["competency"] == "uo-churn")
        .unwrap();
    assert_eq!(
        (
            churn["required"].as_i64(),
            churn["current"].as_i64(),
            churn["gap"].as_i64()
        ),
        (Some(3), Some(3), Some(0))
    );
    assert_eq!(
        churn["evidence_ids"].as_array().unwrap().len(),
        1,
        "traceable to its evidence"
    );
    assert_eq!(gap["meets"], true);
    // An exam outranks ratings: HR records an external level-1 result, then switches the rule.
    let ext = rate(hr.clone(), json!({"user_id": learner_id, "competency": "uo-churn", "level": 1, "source": "external", "provider": "Retail Academy", "attachment": "cert-123.pdf"})).await;
    assert_eq!(ext.status(), StatusCode::CREATED);
    let gap = json(
        app.get(&format!("/api/v1/gaps/people/{learner_id}"), &hr)
            .await,
    )
    .await;
    let churn = gap["competencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["competency"] == "uo-churn")
        .unwrap();
    assert_eq!(
        churn["current"], 1,
        "latest evidence under the default rule"
    );
    assert_eq!(gap["learning_path"][0]["code"], "uo-102", "{gap}");
    let rule = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/organization/level-rule",
            &hr,
            &json!({"rule": "highest"}),
        )
        .await;
    assert_eq!(rule.status(), StatusCode::OK);
    let gap = json(
        app.get(&format!("/api/v1/gaps/people/{learner_id}"), &hr)
            .await,
    )
    .await;
    let churn = gap["competencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["competency"] == "uo-churn")
        .unwrap();
    assert_eq!(churn["current"], 3);
    let bad_rule = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/organization/level-rule",
            &hr,
            &json!({"rule": "vibes"}),
        )
        .await;
    assert_eq!(bad_rule.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The department heatmap and the organization report.
    let store = json(app.get("/api/v1/gaps/departments/Store%201", &hr).await).await;
    assert_eq!(store["rows"].as_array().unwrap().len(), 2);
    assert_eq!(
        store["rows"][0]["name"], "Trainer",
        "no evidence: the largest gap first"
    );
    let csv = app
        .get("/api/v1/gaps/departments/Store%201?format=csv", &hr)
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("Li Na,member-ops"), "{csv}");
    let org = json(app.get("/api/v1/gaps/organization", &hr).await).await;
    let ops = &org["positions"][0];
    assert_eq!(
        (
            ops["headcount"].as_i64(),
            ops["assigned"].as_i64(),
            ops["meets"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(ops["shortfall"], 2);
    let rfm = org["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["competency"] == "uo-rfm")
        .unwrap();
    assert_eq!(rfm["action"], "internal", "{rfm}");
    assert!(org["key_person_risks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["competency"] == "uo-churn"));

    // Who sees what: the manager sees the report's gaps, the learner not the manager's,
    // learners not the department or the organization.
    let trainer_id = user_id(&app, &admin, "trainer@demo.test").await;
    assert_eq!(
        app.get(&format!("/api/v1/gaps/people/{learner_id}"), &trainer)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v1/gaps/people/{trainer_id}"), &learner)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/gaps/departments/Store%201", &learner)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/v1/gaps/departments/Store%201", &trainer)
            .await
            .status(),
        StatusCode::OK,
        "the store's manager"
    );
    assert_eq!(
        app.get("/api/v1/gaps/organization", &learner)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let platform = app.token("platform").await;
    assert_eq!(
        app.get(&format!("/api/v1/gaps/people/{learner_id}"), &platform)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // HR assigns the trainer's learning path: enrolled in each course.
    let path = app
        .post_json(
            &format!("/api/v1/gaps/people/{trainer_id}/learning-path"),
            &hr,
            &json!({}),
        )
        .await;
    assert_eq!(path.status(), StatusCode::CREATED);
    let path = json(path).await;
    assert_eq!(path["courses"].as_array().unwrap().len(), 2);
    let learning = json(app.get("/api/v1/me/learning", &trainer).await).await;
    assert_eq!(learning["total"], 2, "{learning}");
    let paths = json(
        app.get(
            &format!("/api/v1/gaps/people/{trainer_id}/learning-paths"),
            &hr,
        )
        .await,
    )
    .await;
    assert_eq!(paths["total"], 1);
    assert_eq!(paths["items"][0]["courses"].as_array().unwrap().len(), 2);
    assert_eq!(paths["items"][0]["completed"], 0);
    assert_eq!(
        app.get(
            &format!("/api/v1/gaps/people/{trainer_id}/learning-paths"),
            &learner
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn positions_come_from_templates_and_name_bad_requirements() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let hr = app.token("hr").await;
    let bad = app
        .post_json(
            "/api/v1/positions",
            &hr,
            &json!({"code": "Bad Code", "name": "", "category": "user-operation", "level": 7,
                    "requirements": [{"competency": "co-copywriting", "level": 2}]}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = problem_fields(&json(bad).await);
    fields.sort();
    assert_eq!(
        fields,
        vec!["code", "level", "name", "requirements[0].competency"]
    );
    // Templates need the categories' models; the mini catalog has only user operation.
    let missing = app
        .post_json("/api/v1/positions/templates/nonsense", &hr, &json!({}))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let learner = app.token("learner").await;
    assert_eq!(
        app.post_json(
            "/api/v1/positions/templates/self-built",
            &learner,
            &json!({})
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_demo_organization_has_staff_positions_and_evidence_on_first_start() {
    let app = crate::helpers::spawn_app_with(
        crate::helpers::TestDb::fresh().await,
        crate::helpers::AppOptions {
            content: true,
            ..Default::default()
        },
    )
    .await;
    let hr = app.token("hr").await;
    let positions = json(app.get("/api/v1/positions", &hr).await).await;
    assert_eq!(positions["total"], 7, "the self-built template");
    // The other two organization modes of the seeds add their typical positions.
    for mode in ["temporary-project", "supplier-empowerment"] {
        let applied = app
            .post_json(
                &format!("/api/v1/positions/templates/{mode}"),
                &hr,
                &json!({}),
            )
            .await;
        assert!(
            applied.status().is_success(),
            "{mode}: {}",
            applied.status()
        );
    }
    let all = json(app.get("/api/v1/positions", &hr).await).await;
    assert!(all["total"].as_u64().unwrap() > 7, "{all}");
    let org = json(app.get("/api/v1/gaps/organization", &hr).await).await;
    assert!(org["people"].as_i64().unwrap() >= 27, "{}", org["people"]);
    let guides = org["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["position"] == "store-guide")
        .unwrap();
    assert!(guides["assigned"].as_i64().unwrap() >= 18, "{guides}");
    assert!(!org["recommendations"].as_array().unwrap().is_empty());
    let store = json(
        app.get("/api/v1/gaps/departments/Shanghai%20Xuhui%20store", &hr)
            .await,
    )
    .await;
    assert_eq!(store["rows"].as_array().unwrap().len(), 7);
    assert!(!store["most_lacking"].as_array().unwrap().is_empty());
    let learner = app.token("learner").await;
    let me = json(app.get("/api/v1/me", &learner).await).await;
    let gap = json(
        app.get(&format!("/api/v1/gaps/people/{}", me["id"]), &learner)
            .await,
    )
    .await;
    assert_eq!(gap["position"], "store-guide");
    assert_eq!(gap["competencies"].as_array().unwrap().len(), 8);
    // Starting again adds nothing.
    assert_eq!(
        talentcert::gaps::demo::ensure_demo_staff(&app.db.connect().await)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn hr_works_in_pages_import_wizard_heatmap_and_ratings() {
    let (app, _dir, _hr) = gap_app().await;
    let (hr_page, _) = crate::auth::page_session(&app, "hr@demo.test").await;
    let wizard = hr_page
        .get(app.url("/hr/roster"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::pages::csrf_of(&wizard);
    let upload = |fields: Vec<(&'static str, String)>, file: Option<Vec<u8>>| {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k, v);
        }
        if let Some(bytes) = file {
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name("roster.csv")
                    .mime_str("text/csv")
                    .unwrap(),
            );
        }
        hr_page.post(app.url("/hr/roster")).multipart(form).send()
    };
    let staff = format!("{ROSTER}T1,Trainer,trainer@demo.test,Store 1,,member-ops,\nL1,Li Na,learner@demo.test,Store 1,T1,member-ops,\n");
    let no_csrf = upload(
        vec![("mode", "merge".into()), ("action", "preview".into())],
        Some(staff.clone().into_bytes()),
    )
    .await
    .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let preview = upload(
        vec![
            ("csrf_token", csrf.clone()),
            ("mode", "merge".into()),
            ("action", "preview".into()),
        ],
        Some(staff.clone().into_bytes()),
    )
    .await
    .unwrap();
    assert_eq!(preview.status(), StatusCode::OK);
    let preview = preview.text().await.unwrap();
    assert!(
        preview.contains("Preview: nothing has changed yet") && preview.contains("Zhao, Lei"),
        "{preview}"
    );
    let carried = preview
        .split("name=\"file_b64\" value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("{preview}"))
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let users = count(&app, "users").await;
    let commit = upload(
        vec![
            ("csrf_token", csrf.clone()),
            ("file_b64", carried),
            ("mode", "merge".into()),
            ("action", "commit".into()),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(commit.status(), StatusCode::OK);
    assert!(commit
        .text()
        .await
        .unwrap()
        .contains("The roster is imported"));
    assert_eq!(count(&app, "users").await, users + 3);

    // The overview, the positions page, a department's heatmap.
    let overview = hr_page
        .get(app.url("/hr"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        overview.contains("Positions and who meets them") && overview.contains("<svg"),
        "{overview}"
    );
    assert!(overview.contains("/hr/departments/Store%201"), "{overview}");
    let positions = hr_page
        .get(app.url("/hr/positions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        positions.contains("member-ops") && positions.contains("Self-built all-round organization")
    );
    let bad = hr_page
        .post(app.url("/hr/positions"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", "Bad Code"),
            ("name", "x"),
            ("category", "user-operation"),
            ("level", "2"),
            ("headcount", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let heat = hr_page
        .get(app.url("/hr/departments/Store%201"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        heat.contains("<svg") && heat.contains("Zhao, Lei") && heat.contains("王芳"),
        "{heat}"
    );

    // The learner sees their own skills page and rates themselves; not HR's pages.
    let (learner_page, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let to = learner_page.get(app.url("/skills")).send().await.unwrap();
    assert_eq!(to.status(), StatusCode::SEE_OTHER);
    let mine_url = to.headers()["location"].to_str().unwrap().to_string();
    let mine = learner_page
        .get(app.url(&mine_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        mine.contains("Member operator")
            && mine.contains("Rate yourself")
            && mine.contains("Current and required levels"),
        "{mine}"
    );
    let learner_csrf = crate::pages::csrf_of(&mine);
    let rated = learner_page
        .post(app.url(&mine_url.replace("/gaps", "/ratings")))
        .form(&[
            ("csrf_token", learner_csrf.as_str()),
            ("competency", "uo-rfm"),
            ("level", "2"),
            ("note", "I run the RFM review"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(rated.status(), StatusCode::SEE_OTHER);
    let mine = learner_page
        .get(app.url(&format!("{mine_url}?done=rated")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        mine.contains("The rating is recorded") && mine.contains("I run the RFM review"),
        "{mine}"
    );
    assert_eq!(
        learner_page
            .get(app.url("/hr"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        learner_page
            .get(app.url("/hr/departments/Store%201"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // The manager (the trainer) sees the report's page and rates her.
    let (manager_page, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let report_page = manager_page
        .get(app.url(&mine_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(report_page.contains("Rate this person"), "{report_page}");
}

#[tokio::test]
async fn competency_models_round_trip_through_moodle_framework_csv_and_bad_rows_are_named() {
    let app = crate::helpers::spawn_app_with(
        crate::helpers::TestDb::fresh().await,
        crate::helpers::AppOptions {
            content: true,
            ..Default::default()
        },
    )
    .await;
    let platform = app.token("platform").await;
    let categories = json(app.get("/api/v1/job-categories", &platform).await).await;
    let ids: Vec<String> = categories["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 7);
    let put = |id: String, lang: &'static str, body: String| {
        let app = &app;
        let platform = platform.clone();
        async move {
            app.api
                .put(app.url(&format!(
                    "/api/v1/job-categories/{id}/framework.csv?lang={lang}"
                )))
                .bearer_auth(&platform)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // Every shipped model, in both languages, comes back unchanged.
    for id in &ids {
        for lang in ["en", "zh-CN"] {
            let csv = app
                .get(
                    &format!("/api/v1/job-categories/{id}/framework.csv?lang={lang}"),
                    &platform,
                )
                .await
                .text()
                .await
                .unwrap();
            assert!(
                csv.starts_with("\"Parent ID number\",\"ID number\",\"Short name\""),
                "{csv}"
            );
            let report = put(id.clone(), lang, csv).await;
            assert_eq!(report.status(), StatusCode::OK);
            let report = json(report).await;
            assert!(
                report["changed"].as_array().unwrap().is_empty(),
                "{id} {lang}: {report}"
            );
            assert!(report["competencies"].as_i64().unwrap() >= 8);
        }
    }
    let id = "user-operation".to_string();
    let csv = app
        .get(
            &format!("/api/v1/job-categories/{id}/framework.csv"),
            &platform,
        )
        .await
        .text()
        .await
        .unwrap();
    // A rename is applied.
    let to_csv = |rows: &[Vec<String>]| {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(talentcert::gaps::framework::HEADERS)
            .unwrap();
        for r in rows {
            w.write_record(r).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    };
    let mut renamed: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let competency = renamed[1][1].clone();
    renamed[1][2] = "Knowing the users, renamed".into();
    let report = json(put(id.clone(), "en", to_csv(&renamed)).await).await;
    assert_eq!(report["changed"], json!([competency]), "{report}");
    let categories = json(app.get("/api/v1/job-categories", &platform).await).await;
    assert!(categories
        .to_string()
        .contains("Knowing the users, renamed"));
    // Bad rows: a missing level, an unknown competency, a duplicate, a bad level id.
    let mut rows: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let level = rows.iter().position(|r| r[1].ends_with(".L3")).unwrap();
    let removed = rows.remove(level);
    let mut new_competency = removed.clone();
    (new_competency[0], new_competency[1], new_competency[2]) =
        (String::new(), "uo-brand-new".into(), "Brand new".into());
    rows.push(new_competency);
    let mut duplicate = rows[2].clone();
    duplicate[2] = "Again".into();
    rows.push(duplicate);
    let mut bad_level = removed.clone();
    bad_level[1] = bad_level[1].replace(".L3", ".L9");
    rows.push(bad_level);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(talentcert::gaps::framework::HEADERS)
        .unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    let bad = String::from_utf8(w.into_inner().unwrap()).unwrap();
    let refused = put(id.clone(), "en", bad.clone()).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields = problem_fields(&json(refused).await);
    assert!(
        fields.iter().any(|f| f.ends_with("ID number")),
        "{fields:?}"
    );
    assert!(fields.len() >= 3, "every bad row is named: {fields:?}");
    let dry = app
        .api
        .put(app.url(&format!(
            "/api/v1/job-categories/{id}/framework.csv?dry_run=true"
        )))
        .bearer_auth(&platform)
        .body(bad)
        .send()
        .await
        .unwrap();
    let dry = json(dry).await;
    let messages: Vec<String> = dry["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("uo-brand-new")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("appears twice")),
        "{messages:?}"
    );
    // Only the platform edits models.
    let trainer = app.token("trainer").await;
    let csv = app
        .get(
            &format!("/api/v1/job-categories/{id}/framework.csv"),
            &trainer,
        )
        .await
        .text()
        .await
        .unwrap();
    let denied = app
        .api
        .put(app.url(&format!("/api/v1/job-categories/{id}/framework.csv")))
        .bearer_auth(&trainer)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_completed_course_is_evidence_that_exams_outrank() {
    let (app, _dir, hr) = gap_app().await;
    let staff = "employee_id,name,email,department,manager_employee_id,position\nL1,Li Na,learner@demo.test,Store 1,,member-ops\n";
    assert_eq!(
        roster(&app, &hr, "dry_run=false", staff.as_bytes().to_vec())
            .await
            .status(),
        StatusCode::OK
    );
    let learner = app.token("learner").await;
    let me = json(app.get("/api/v1/me", &learner).await).await;
    let courses = json(app.get("/api/v1/courses?q=uo-101", &learner).await).await;
    let course = courses["items"][0]["id"].as_i64().unwrap();
    app.post_json(
        &format!("/api/v1/courses/{course}/enrolment"),
        &learner,
        &json!({}),
    )
    .await;
    let detail = json(
        app.get(&format!("/api/v1/courses/{course}"), &learner)
            .await,
    )
    .await;
    for lesson in detail["lessons"].as_array().unwrap() {
        let done = app
            .post_json(
                &format!("/api/v1/lessons/{}/completion", lesson["id"]),
                &learner,
                &json!({}),
            )
            .await;
        assert_eq!(done.status(), StatusCode::OK);
    }
    let ledger = json(
        app.get(&format!("/api/v1/evidence?user_id={}", me["id"]), &learner)
            .await,
    )
    .await;
    assert_eq!(ledger["total"], 1, "{ledger}");
    assert_eq!(ledger["items"][0]["source"], "course");
    assert_eq!(ledger["items"][0]["competency"], "uo-rfm");
    let gap = json(
        app.get(&format!("/api/v1/gaps/people/{}", me["id"]), &learner)
            .await,
    )
    .await;
    let rfm = gap["competencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["competency"] == "uo-rfm")
        .unwrap();
    assert_eq!(rfm["current"], 2, "the course develops RFM to level 2");
    // Completing a lesson again records nothing more.
    let first = detail["lessons"][0]["id"].as_i64().unwrap();
    app.post_json(
        &format!("/api/v1/lessons/{first}/completion"),
        &learner,
        &json!({}),
    )
    .await;
    assert_eq!(
        json(
            app.get(&format!("/api/v1/evidence?user_id={}", me["id"]), &learner)
                .await
        )
        .await["total"],
        1
    );
}

#[tokio::test]
async fn hr_edits_a_positions_requirements_in_the_page() {
    let (app, _dir, hr) = gap_app().await;
    let (page, _) = crate::auth::page_session(&app, "hr@demo.test").await;
    let html = page
        .get(app.url("/hr/positions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"level.uo-rfm\""), "{html}");
    let csrf = crate::pages::csrf_of(&html);
    let saved = page
        .post(app.url("/hr/positions/member-ops/requirements"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("headcount", "5"),
            ("level.uo-rfm", "4"),
            ("weight.uo-rfm", "2.5"),
            ("mandatory.uo-rfm", "1"),
            ("level.uo-churn", "3"),
            ("weight.uo-churn", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let positions = json(app.get("/api/v1/positions", &hr).await).await;
    let p = &positions["items"][0];
    assert_eq!(p["headcount"], 5);
    let rfm = p["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["competency"] == "uo-rfm")
        .unwrap();
    assert_eq!(
        (
            rfm["level"].as_i64(),
            rfm["weight"].as_f64(),
            rfm["mandatory"].as_bool()
        ),
        (Some(4), Some(2.5), Some(true))
    );
    let churn = p["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["competency"] == "uo-churn")
        .unwrap();
    assert_eq!(
        churn["mandatory"], false,
        "an unticked box makes it optional"
    );
    let bad = page
        .post(app.url("/hr/positions/member-ops/requirements"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("level.uo-rfm", "9"),
            ("level.uo-churn", "3"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_position_has_a_learning_map_hr_edits_and_a_learner_follows() {
    let (app, _dir, hr) = gap_app().await;
    let learner = app.token("learner").await;
    let positions = json(app.get("/api/v1/positions", &hr).await).await;
    let pos = positions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "member-ops")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let url = format!("/api/v1/positions/{pos}/learning-map");
    // Generated from the requirements (uo-rfm at 2, uo-churn at 3) and the catalog.
    let map = json(app.get(&url, &hr).await).await;
    assert_eq!(map["generated"], true, "{map}");
    let stages = map["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2, "{map}");
    assert_eq!(stages[0]["level"], 2);
    assert_eq!(stages[0]["items"][0]["code"], "uo-101");
    assert_eq!(stages[0]["items"][0]["required"], true);
    assert_eq!(stages[0]["certification"]["code"], "uo-associate");
    assert_eq!(stages[1]["level"], 3);
    assert_eq!(stages[1]["items"][0]["code"], "uo-102");

    // A learner without a position has no map; with one, what is next and the gaps.
    assert_eq!(
        app.get("/api/v1/me/learning-map", &learner).await.status(),
        StatusCode::NOT_FOUND
    );
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    db.execute(sea_orm::Statement::from_string(
        backend,
        format!("UPDATE users SET position_id = {pos} WHERE email = 'learner@demo.test'"),
    ))
    .await
    .unwrap();
    let mine = json(app.get("/api/v1/me/learning-map", &learner).await).await;
    assert_eq!(mine["next"], "uo-101", "{mine}");
    assert_eq!(mine["stages"][0]["done"], false);
    assert_eq!(mine["stages"][0]["items"][0]["status"], "not_started");
    let rfm = mine["stages"][0]["competencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["competency"] == "uo-rfm")
        .unwrap()
        .clone();
    assert_eq!(
        (rfm["target"].as_i64(), rfm["gap"].as_i64()),
        (Some(2), Some(2))
    );
    // The course done, the certification is next.
    let course = mine["stages"][0]["items"][0]["course_id"].as_i64().unwrap();
    let detail = json(
        app.get(&format!("/api/v1/courses/{course}"), &learner)
            .await,
    )
    .await;
    for lesson in detail["lessons"].as_array().unwrap() {
        let done = app
            .post_json(
                &format!("/api/v1/lessons/{}/completion", lesson["id"]),
                &learner,
                &json!({}),
            )
            .await;
        assert_eq!(done.status(), StatusCode::OK);
    }
    let mine = json(app.get("/api/v1/me/learning-map", &learner).await).await;
    assert_eq!(mine["stages"][0]["items"][0]["status"], "completed");
    assert_eq!(mine["next"], "uo-associate", "{mine}");
    let (client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let page = client
        .get(app.url("/learning-map"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<svg class=\"map-path\"") && page.contains("Next: uo-associate"),
        "{page}"
    );

    // HR edits the map: every unknown course and certification named by its place.
    let bad = app
        .send_json(reqwest::Method::PUT, &url, &hr,
            &json!({"stages": [{"level": 9, "items": [{"course": "nope"}], "certification": "none-such"}]}))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields = problem_fields(&json(bad).await);
    assert_eq!(
        fields,
        vec![
            "stages[0].level",
            "stages[0].items[0].course",
            "stages[0].certification"
        ]
    );
    let by_learner = app
        .send_json(reqwest::Method::PUT, &url, &learner, &json!({"stages": []}))
        .await;
    assert_eq!(by_learner.status(), StatusCode::FORBIDDEN);
    let edited = json(
        app.send_json(reqwest::Method::PUT, &url, &hr,
            &json!({"stages": [{"level": 2, "title": "Store basics", "items": [{"course": "uo-102", "required": false}, {"course": "uo-101"}], "certification": "uo-associate"}]}))
            .await,
    )
    .await;
    assert_eq!(edited["generated"], false);
    assert_eq!(edited["stages"][0]["title"], "Store basics");
    assert_eq!(edited["stages"][0]["items"][0]["required"], false);
    // In the page: the editor's text, and back to the generated map.
    let (hr_client, _) = crate::auth::page_session(&app, "hr@demo.test").await;
    let page = hr_client
        .get(app.url(&format!("/hr/positions/{pos}/learning-map")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("2 | Store basics | uo-102? uo-101 | uo-associate"),
        "{page}"
    );
    let csrf = crate::pages::csrf_of(&page);
    let wrong = hr_client
        .post(app.url(&format!("/hr/positions/{pos}/learning-map")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("stages", "two | x | uo-101"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().await.unwrap().contains("line 1"));
    let reset = hr_client
        .post(app.url(&format!("/hr/positions/{pos}/learning-map")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("stages", ""),
            ("reset", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    assert_eq!(json(app.get(&url, &hr).await).await["generated"], true);
}

#[tokio::test]
async fn a_store_dashboard_shows_completion_certification_and_gaps_by_month() {
    let (app, _dir, hr) = gap_app().await;
    // The trainer manages the learner in Store 1; both hold the member-ops position.
    let staff = "employee_id,name,email,department,manager_employee_id,position\n\
T1,Trainer,trainer@demo.test,Store 1,,member-ops\n\
L1,Li Na,learner@demo.test,Store 1,T1,member-ops\n";
    let done = roster(&app, &hr, "dry_run=false", staff.as_bytes().to_vec()).await;
    assert_eq!(done.status(), StatusCode::OK);
    let admin = app.token("admin").await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let learner_id = user_id(&app, &admin, "learner@demo.test").await;
    // Evidence: the learner at level 1 on uo-rfm (position wants 2): a gap of 1 there.
    let r = app
        .post_json("/api/v1/evidence", &trainer, &json!({"user_id": learner_id, "competency": "uo-rfm", "level": 1, "source": "manager"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // HR assigns her learning path; she completes the first course of it.
    let path = json(
        app.post_json(
            &format!("/api/v1/gaps/people/{learner_id}/learning-path"),
            &hr,
            &json!({}),
        )
        .await,
    )
    .await;
    let courses: Vec<i64> = path["courses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_i64().unwrap())
        .collect();
    assert!(courses.len() >= 2, "{path}");
    let detail = json(
        app.get(&format!("/api/v1/courses/{}", courses[0]), &learner)
            .await,
    )
    .await;
    for lesson in detail["lessons"].as_array().unwrap() {
        app.post_json(
            &format!("/api/v1/lessons/{}/completion", lesson["id"]),
            &learner,
            &json!({}),
        )
        .await;
    }

    let url = "/api/v1/dashboards/departments/Store%201";
    let d = json(app.get(url, &hr).await).await;
    assert_eq!(d["people"], 2, "{d}");
    assert_eq!(d["assigned_courses"].as_u64(), Some(courses.len() as u64));
    assert_eq!(d["assigned_completed"], 1);
    let expected = (1000.0 / courses.len() as f64).round() / 10.0;
    assert_eq!(d["completion_rate"].as_f64(), Some(expected));
    let pos = &d["positions"][0];
    assert_eq!(
        (
            pos["position"].as_str(),
            pos["people"].as_u64(),
            pos["certified"].as_u64()
        ),
        (Some("member-ops"), Some(2), Some(0))
    );
    assert_eq!(pos["rate"], 0.0);
    let rfm = d["competencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["competency"] == "uo-rfm")
        .unwrap()
        .clone();
    // The learner is one short (evidence 1, or 2 from the completed course); the trainer,
    // without evidence, two short.
    assert_eq!(rfm["people"], 2);
    assert!(rfm["average_gap"].as_f64().unwrap() > 0.0, "{rfm}");
    let trend = d["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 6);
    assert_eq!(trend[5]["completion_rate"], d["completion_rate"]);
    assert!(
        trend[0]["completion_rate"].is_null(),
        "nothing was assigned five months ago"
    );
    assert!(trend[5]["average_gap"].as_f64().unwrap() <= trend[0]["average_gap"].as_f64().unwrap());

    // The manager sees their store; a learner does not; another store is a 404.
    assert_eq!(app.get(url, &trainer).await.status(), StatusCode::OK);
    assert_eq!(app.get(url, &learner).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/dashboards/departments/Nowhere", &hr)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // As a page with its charts, and as Excel and CSV.
    let (client, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let page = client
        .get(app.url("/dashboards/departments/Store%201"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<svg class=\"chart\"") && html.contains("Completion of assigned learning"),
        "{html}"
    );
    let xlsx = app.get(&format!("{url}?format=xlsx"), &hr).await;
    assert_eq!(
        xlsx.headers()["content-type"],
        talentcert::export::XLSX_TYPE
    );
    let rows = crate::study::xlsx_rows(xlsx.bytes().await.unwrap().to_vec());
    assert!(
        rows.iter()
            .any(|r| r[0] == "certification_rate" && r[1] == "member-ops"),
        "{rows:?}"
    );
    let csv = app
        .get(&format!("{url}?format=csv"), &hr)
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("average_gap,uo-rfm,2,"), "{csv}");
    // Every gap report comes as Excel too.
    for report in [
        format!("/api/v1/gaps/people/{learner_id}?format=xlsx"),
        "/api/v1/gaps/departments/Store%201?format=xlsx".to_string(),
        "/api/v1/gaps/organization?format=xlsx".to_string(),
        "/api/v1/roster?format=xlsx".to_string(),
    ] {
        let r = app.get(&report, &hr).await;
        assert_eq!(r.status(), StatusCode::OK, "{report}");
        let rows = crate::study::xlsx_rows(r.bytes().await.unwrap().to_vec());
        assert!(rows.len() >= 2, "{report}: {rows:?}");
    }
    assert_eq!(
        app.get("/api/v1/gaps/organization?format=pdf", &hr)
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
