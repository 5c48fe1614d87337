//! Pages: sign-in with CSRF, home per role, the admin overview, the language switch, assets.
use reqwest::StatusCode;

use crate::auth::page_session;
use crate::helpers::{spawn_app, DEMO_PASSWORD};

/// The CSRF token embedded in a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf-token\" content=\"";
    let start = html.find(marker).expect("page has a csrf meta tag") + marker.len();
    html[start..start + 64].to_string()
}

/// The body of a page.
async fn page_text(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// Submits a URL-encoded form.
async fn post_form(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client.post(url).form(fields).send().await.unwrap()
}

fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn pages_need_a_session_and_send_visitors_to_sign_in() {
    let app = spawn_app().await;
    let home = app.api.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()["location"], "/login?next=/");
    let admin = app.api.get(app.url("/admin?tab=x")).send().await.unwrap();
    assert_eq!(admin.headers()["location"], "/login?next=/admin%3Ftab%3Dx");
}

#[tokio::test]
async fn the_login_form_checks_its_csrf_token() {
    let app = spawn_app().await;
    let client = cookie_client();
    let page = page_text(&client, &app.url("/login")).await;
    let token = csrf_of(&page);
    let forged = post_form(
        &client,
        &app.url("/login"),
        &[
            ("csrf_token", "f".repeat(64).as_str()),
            ("email", "admin@demo.test"),
            ("password", DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A request from another site has no tc_csrf cookie to match.
    let no_cookie = post_form(
        &app.api,
        &app.url("/login"),
        &[
            ("csrf_token", token.as_str()),
            ("email", "admin@demo.test"),
            ("password", DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);

    let wrong = post_form(
        &client,
        &app.url("/login"),
        &[
            ("csrf_token", token.as_str()),
            ("email", "admin@demo.test"),
            ("password", "wrong-password"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "the page says why");
    assert!(
        html.contains("value=\"admin@demo.test\""),
        "the email is kept"
    );

    let ok = post_form(
        &client,
        &app.url("/login"),
        &[
            ("csrf_token", token.as_str()),
            ("email", "admin@demo.test"),
            ("password", DEMO_PASSWORD),
            ("next", "/admin"),
        ],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()["location"], "/admin");
    let set_cookie: Vec<_> = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("tc_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"));
    assert!(session.contains("SameSite=Lax"));
}

#[tokio::test]
async fn an_offsite_next_is_ignored() {
    let app = spawn_app().await;
    let client = cookie_client();
    let page = page_text(&client, &app.url("/login")).await;
    let token = csrf_of(&page);
    let ok = post_form(
        &client,
        &app.url("/login"),
        &[
            ("csrf_token", token.as_str()),
            ("email", "learner@demo.test"),
            ("password", DEMO_PASSWORD),
            ("next", "//evil.example/"),
        ],
    )
    .await;
    assert_eq!(ok.headers()["location"], "/");
}

#[tokio::test]
async fn every_role_gets_its_home_page() {
    let app = spawn_app().await;
    for (who, expected) in [
        ("learner", "Learning and certification"),
        ("hr", "People and positions"),
        ("trainer", "Courses and question banks"),
        ("admin", "Open administration"),
        ("platform", "Platform operator"),
    ] {
        let (client, _) = page_session(&app, &format!("{who}@demo.test")).await;
        let response = client.get(app.url("/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{who}");
        let html = response.text().await.unwrap();
        assert!(html.contains(expected), "{who}'s home lacks {expected:?}");
        assert!(
            !html.contains("home.section."),
            "{who}'s home shows a raw message key"
        );
        let has_admin_link = html.contains("href=\"/admin\"");
        assert_eq!(
            has_admin_link,
            who == "admin" || who == "platform",
            "{who}: navigation follows roles"
        );
    }
}

#[tokio::test]
async fn the_admin_overview_is_for_admins_only() {
    let app = spawn_app().await;
    let (learner, _) = page_session(&app, "learner@demo.test").await;
    let denied = learner.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(denied
        .text()
        .await
        .unwrap()
        .contains("Your role does not allow this."));

    let (admin, _) = page_session(&app, "admin@demo.test").await;
    let page = admin.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("learner@demo.test"));
    assert!(
        html.contains("auth.login"),
        "recent activity shows the sign-ins"
    );
    assert!(
        !html.contains("platform@demo.test"),
        "another organization's people stay hidden"
    );
}

#[tokio::test]
async fn user_content_is_escaped_in_pages() {
    let app = spawn_app().await;
    let admin_token = app.token("admin").await;
    let created = app
        .post_json(
            "/api/v1/users",
            &admin_token,
            &serde_json::json!({"email": "xss@demo.test", "display_name": "<script>alert(1)</script>", "roles": ["learner"]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let (admin, _) = page_session(&app, "admin@demo.test").await;
    let html = page_text(&admin, &app.url("/admin")).await;
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn the_language_switch_changes_pages_and_the_preference() {
    let app = spawn_app().await;
    // A visitor: remembered in a cookie.
    let visitor = cookie_client();
    let page = page_text(&visitor, &app.url("/login")).await;
    assert!(page.contains("Sign in to talentcert"));
    let switched = post_form(
        &visitor,
        &app.url("/language"),
        &[
            ("csrf_token", csrf_of(&page).as_str()),
            ("lang", "zh-CN"),
            ("next", "/login"),
        ],
    )
    .await;
    assert_eq!(switched.status(), StatusCode::SEE_OTHER);
    let page = page_text(&visitor, &app.url("/login")).await;
    assert!(page.contains("登录 talentcert"), "{page}");

    // A signed-in person: stored as their preference.
    let (client, _) = page_session(&app, "hr@demo.test").await;
    let home = page_text(&client, &app.url("/")).await;
    let switched = post_form(
        &client,
        &app.url("/language"),
        &[
            ("csrf_token", csrf_of(&home).as_str()),
            ("lang", "zh-CN"),
            ("next", "/"),
        ],
    )
    .await;
    assert_eq!(switched.status(), StatusCode::SEE_OTHER);
    let token = app.token("hr").await;
    let me = crate::helpers::json(app.get("/api/v1/me", &token).await).await;
    assert_eq!(me["language"], "zh-CN");
    let home = page_text(&client, &app.url("/")).await;
    assert!(home.contains("人员与岗位"));

    let forged = post_form(
        &client,
        &app.url("/language"),
        &[("csrf_token", "0".repeat(64).as_str()), ("lang", "en")],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn accept_language_picks_the_page_language() {
    let app = spawn_app().await;
    let page = app
        .api
        .get(app.url("/login"))
        .header("accept-language", "zh-CN,zh;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"zh-CN\">"));
    assert!(page.contains("登录"));
}

#[tokio::test]
async fn the_page_logout_ends_the_session() {
    let app = spawn_app().await;
    let (client, _) = page_session(&app, "learner@demo.test").await;
    let home = page_text(&client, &app.url("/")).await;
    let out = post_form(
        &client,
        &app.url("/logout"),
        &[("csrf_token", csrf_of(&home).as_str())],
    )
    .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()["location"], "/login");
    let after = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_stylesheet_is_served_by_the_service_and_pages_load_nothing_external() {
    let app = spawn_app().await;
    let page = app.api.get(app.url("/login")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
    );
    let css = app
        .api
        .get(app.url("/static/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let etag = css.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .api
        .get(app.url("/static/app.css"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn admins_invite_change_roles_and_deactivate_in_the_page() {
    let app = spawn_app().await;
    let (client, _) = page_session(&app, "admin@demo.test").await;
    let page = page_text(&client, &app.url("/admin")).await;
    assert!(page.contains("Invite a person"), "{page}");
    let csrf = csrf_of(&page);
    let invited = client
        .post(app.url("/admin/invitations"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "new.person@demo.test"),
            ("display_name", "New Person"),
            ("language", "zh-CN"),
            ("roles", "learner"),
            ("roles", "trainer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), StatusCode::SEE_OTHER);
    let admin = app.token("admin").await;
    let users = crate::helpers::json(app.get("/api/v1/users?q=new.person", &admin).await).await;
    let new = &users["items"][0];
    assert_eq!(new["status"], "invited");
    assert_eq!(new["roles"], serde_json::json!(["learner", "trainer"]));
    let bad = client
        .post(app.url("/admin/invitations"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "not an email"),
            ("display_name", "X"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Roles of the learner: learner and HR.
    let learner = crate::helpers::json(app.get("/api/v1/users?q=learner@demo.test", &admin).await)
        .await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let roles = client
        .post(app.url(&format!("/admin/users/{learner}/roles")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("roles", "learner"),
            ("roles", "hr"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(roles.status(), StatusCode::SEE_OTHER);
    let user =
        crate::helpers::json(app.get(&format!("/api/v1/users/{learner}"), &admin).await).await;
    assert_eq!(user["roles"], serde_json::json!(["learner", "hr"]));
    // Deactivating ends the account's use; the last admin cannot drop their own admin role.
    let off = client
        .post(app.url(&format!("/admin/users/{learner}/status")))
        .form(&[("csrf_token", csrf.as_str()), ("status", "deactivated")])
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.login("learner@demo.test", DEMO_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let me = crate::helpers::json(app.get("/api/v1/me", &admin).await).await["id"]
        .as_i64()
        .unwrap();
    let last = client
        .post(app.url(&format!("/admin/users/{me}/roles")))
        .form(&[("csrf_token", csrf.as_str()), ("roles", "learner")])
        .send()
        .await
        .unwrap();
    assert_eq!(last.status(), StatusCode::CONFLICT);
    assert!(last
        .text()
        .await
        .unwrap()
        .contains("at least one active admin"));
}

#[tokio::test]
async fn the_admin_reads_the_audit_log_by_action_page_by_page() {
    let app = crate::helpers::spawn_app().await;
    for _ in 0..24 {
        app.token("learner").await;
    }
    let (client, _) = crate::auth::page_session(&app, "admin@demo.test").await;
    let get = |path: &'static str| {
        let client = client.clone();
        let url = app.url(path);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let first = get("/admin?action=auth.login").await;
    assert!(first.contains(" entries · page 1 of 2"), "{first}");
    assert_eq!(
        first.matches("<code>auth.login</code>").count(),
        20,
        "a page of 20"
    );
    assert!(
        first.contains("audit_page=1#audit-heading\" rel=\"next\""),
        "{first}"
    );
    assert!(
        !first.contains("<code>user.created</code>"),
        "only the chosen action"
    );
    let second = get("/admin?action=auth.login&audit_page=1").await;
    assert!(
        second.contains("page 2 of 2") && second.contains("<code>auth.login</code>"),
        "{second}"
    );
    // An unknown action shows everything rather than failing.
    let all = get("/admin?action=nonsense").await;
    assert!(all.contains("page 1 of"), "{all}");
}
