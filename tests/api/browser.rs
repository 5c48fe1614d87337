//! Pages in a real browser: headless Chromium over WebDriver (Debian `chromium` and
//! `chromium-driver`). Screenshots of each main page go to `target/screenshots/` (ignored by git).
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::exams::{cert_id, exam_app, review_of};
use crate::helpers::{json, TestApp, DEMO_PASSWORD};

/// A chromedriver process and a browser session on it.
pub struct Browser {
    driver: Child,
    pub client: Client,
    shots: std::path::PathBuf,
}

impl Browser {
    pub async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Its own process group, so that dropping the browser ends Chromium too (killing only
        // chromedriver left every test's Chromium running).
        let driver = Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver)");
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--lang=en-US"]
            }
        }))
        .unwrap();
        let mut client = None;
        for _ in 0..100 {
            // Plain HTTP to the local driver: no TLS stack needed.
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            driver,
            client: client.expect("a browser session"),
            shots,
        }
    }

    /// Writes a screenshot of the current page.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn goto(&self, app: &TestApp, path: &str) {
        self.client.goto(&app.url(path)).await.unwrap();
    }

    pub async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
    }

    /// The page's text (asked again if the page changed under the question).
    pub async fn text(&self) -> String {
        for _ in 0..50 {
            if let Ok(body) = self.client.find(Locator::Css("body")).await {
                if let Ok(text) = body.text().await {
                    return text;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page has no readable body");
    }

    /// Waits until the page's text contains `needle`.
    pub async fn wait_text(&self, needle: &str) -> String {
        for _ in 0..100 {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{needle:?} never appeared in:\n{}", self.text().await);
    }

    /// Every visible form control has a label (a `label` for it or around it, `aria-label` or
    /// `aria-labelledby`), and every image a text alternative; names the ones that do not.
    pub async fn assert_accessible(&self, page: &str) {
        let script = r#"
            const bad = [];
            for (const el of document.querySelectorAll('input, select, textarea')) {
                if (el.type === 'hidden') continue;
                const labelled = el.closest('label') || (el.id && document.querySelector('label[for="' + el.id + '"]'))
                    || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
                if (!labelled) bad.push(el.outerHTML.slice(0, 120));
            }
            for (const img of document.querySelectorAll('img')) {
                if (!img.hasAttribute('alt')) bad.push(img.outerHTML.slice(0, 120));
            }
            if (!document.documentElement.lang) bad.push('html without lang');
            if (document.querySelectorAll('h1').length !== 1) bad.push('h1 count ' + document.querySelectorAll('h1').length);
            return bad;
        "#;
        let bad = self.client.execute(script, vec![]).await.unwrap();
        assert_eq!(bad, json!([]), "{page}: unlabelled or unnamed elements");
    }

    pub async fn sign_in(&self, app: &TestApp, email: &str) {
        self.goto(app, "/login").await;
        self.css("#email").await.send_keys(email).await.unwrap();
        self.css("#password")
            .await
            .send_keys(DEMO_PASSWORD)
            .await
            .unwrap();
        self.css("form.form button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        self.wait_text("Sign out").await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_studies_sits_the_exam_through_a_reload_and_a_verifier_checks_the_certificate() {
    let (app, _dir) = exam_app().await;
    let b = Browser::start().await;
    b.sign_in(&app, "learner@demo.test").await;
    b.shot("home-learner").await;

    // A course, lesson by lesson.
    let learner = app.token("learner").await;
    let courses = json(app.get("/api/v1/courses?q=uo-101", &learner).await).await;
    let course = courses["items"][0]["id"].as_i64().unwrap();
    b.goto(&app, &format!("/courses/{course}")).await;
    b.shot("course").await;
    b.css("form[action$='/enrol'] button")
        .await
        .click()
        .await
        .unwrap();
    // Enrolling opens the first lesson; each lesson is marked complete in turn.
    for _ in 0..10 {
        b.css("article.lesson").await;
        let Ok(complete) = b
            .client
            .find(Locator::Css("form[action$='/complete'] button"))
            .await
        else {
            break;
        };
        let before = b.client.current_url().await.unwrap();
        complete.click().await.unwrap();
        // Wait for the next page before looking at it.
        for _ in 0..50 {
            if b.client.current_url().await.unwrap() != before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let done = json(app.get("/api/v1/me/learning", &learner).await).await;
        if done["items"][0]["enrolment"]["completed_at"].is_string() {
            break;
        }
        if !b
            .client
            .current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/lessons/")
        {
            b.goto(&app, &format!("/courses/{course}")).await;
            b.css("a.button[href^='/lessons/']")
                .await
                .click()
                .await
                .unwrap();
        }
    }
    b.goto(&app, "/learning").await;
    b.shot("learning").await;
    let learning = json(app.get("/api/v1/me/learning", &learner).await).await;
    assert!(
        learning["items"][0]["enrolment"]["completed_at"].is_string(),
        "{learning}"
    );

    // The exam: start, answer half, reload, answers are still there, finish, submit.
    let cert = cert_id(&app, &learner, "uo-open").await;
    b.goto(&app, "/certifications").await;
    b.shot("certifications").await;
    b.assert_accessible("certifications").await;
    b.css(&format!(
        "form[action='/certifications/{cert}/start'] button"
    ))
    .await
    .click()
    .await
    .unwrap();
    b.wait_text("Question 1 of 4").await;
    let url = b.client.current_url().await.unwrap();
    let attempt: i64 = url.path().rsplit('/').next().unwrap().parse().unwrap();
    let trainer = app.token("trainer").await;
    let review = review_of(&app, &trainer, attempt).await;
    let answers: Vec<(i64, String)> = review["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let value = match &q["correct_response"] {
                Value::Bool(v) => v.to_string(),
                Value::String(s) => s.clone(),
                other => panic!("unexpected {other}"),
            };
            (q["id"].as_i64().unwrap(), value)
        })
        .collect();
    let choose = |id: i64, value: &str| format!("input[name='q{id}'][value='{value}']");
    for (id, value) in &answers[..2] {
        b.css(&choose(*id, value)).await.click().await.unwrap();
    }
    b.wait_text("All answers saved").await;
    // The navigator marks what is answered; the countdown runs on the server's deadline.
    for (id, _) in &answers[..2] {
        let class = b
            .css(&format!("#nav-{id}"))
            .await
            .attr("class")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(class.contains("answered"), "nav of q{id}: {class}");
    }
    let untouched = b
        .css(&format!("#nav-{}", answers[3].0))
        .await
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(!untouched.contains("answered"), "{untouched}");
    let timer = b.css("#exam-timer").await.text().await.unwrap();
    assert!(
        timer.ends_with(" left") && timer.contains(':'),
        "the countdown: {timer}"
    );
    let minutes: i64 = timer
        .split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap_or(-1);
    assert!(
        (25..=30).contains(&minutes),
        "a 30-minute exam just started: {timer}"
    );
    b.shot("exam").await;
    b.assert_accessible("exam").await;
    b.client.refresh().await.unwrap();
    b.wait_text("Question 1 of 4").await;
    for (id, value) in &answers[..2] {
        assert!(
            b.css(&choose(*id, value))
                .await
                .is_selected()
                .await
                .unwrap(),
            "q{id} kept after reload"
        );
    }
    for (id, value) in &answers[2..] {
        b.css(&choose(*id, value)).await.click().await.unwrap();
    }
    b.wait_text("All answers saved").await;
    b.css("#exam-submit").await.click().await.unwrap();
    // The confirmation before submitting.
    b.client.accept_alert().await.unwrap();
    b.wait_text("Passed").await;
    b.shot("result").await;

    // The certificate: listed with its download link; the PDF is the issued one.
    b.goto(&app, "/certificates").await;
    b.wait_text("Download the PDF").await;
    b.shot("certificates").await;
    // The share link is the public verification address of the certificate.
    let share = b
        .css("input[id^='share-']")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(share.contains("/verify/"), "{share}");
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    let code = mine["items"][0]["code"].as_str().unwrap().to_string();
    assert!(share.ends_with(&format!("/verify/{code}")), "{share}");
    let display = mine["items"][0]["display_code"]
        .as_str()
        .unwrap()
        .to_string();
    let link = b
        .css("a.button-primary[href$='.pdf']")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link, format!("/api/v1/certificates/{code}.pdf"));
    let pdf = app.get(&link, &learner).await.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));

    // A verifier, with no account, checks it by code and by uploading the PDF.
    let v = Browser::start().await;
    v.goto(&app, "/verify").await;
    v.css("#code")
        .await
        .send_keys(&display.to_lowercase())
        .await
        .unwrap();
    v.css("form[action='/verify'][method='get'] button")
        .await
        .click()
        .await
        .unwrap();
    let page = v.wait_text("Valid certificate").await;
    assert!(page.contains("Li Na") && page.contains("UO Open"), "{page}");
    v.shot("verify-code").await;
    v.assert_accessible("verify").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("certificate.pdf");
    std::fs::write(&path, &pdf).unwrap();
    v.goto(&app, "/verify").await;
    v.css("#file")
        .await
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
    v.css("form[enctype='multipart/form-data'] button")
        .await
        .click()
        .await
        .unwrap();
    v.wait_text("Valid certificate").await;
    v.shot("verify-upload").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_imports_a_roster_and_reads_the_heatmap_and_a_trainer_sees_gift_errors() {
    let (app, _dir, _hr) = crate::gaps::gap_app().await;
    let b = Browser::start().await;
    b.sign_in(&app, "hr@demo.test").await;
    b.goto(&app, "/hr/roster").await;
    b.shot("hr-roster").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.csv");
    std::fs::write(&path, crate::gaps::ROSTER).unwrap();
    b.css("#file")
        .await
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
    b.css("form[enctype='multipart/form-data'] button")
        .await
        .click()
        .await
        .unwrap();
    let preview = b.wait_text("Preview: nothing has changed yet").await;
    assert!(preview.contains("王芳"), "{preview}");
    b.shot("hr-roster-preview").await;
    b.assert_accessible("roster preview").await;
    b.css("input[name='action'][value='commit'] ~ button")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("The roster is imported").await;
    b.goto(&app, "/hr").await;
    b.wait_text("Positions and who meets them").await;
    b.shot("hr-overview").await;
    b.goto(&app, "/hr/departments/Store%201").await;
    b.css("svg.heatmap").await;
    let heat = b.text().await;
    assert!(
        heat.contains("Zhao, Lei") && heat.contains("Competencies most lacking"),
        "{heat}"
    );
    b.shot("hr-heatmap").await;
    b.assert_accessible("heatmap").await;

    // A trainer creates a course and pastes a question bank with a mistake.
    let t = Browser::start().await;
    t.sign_in(&app, "trainer@demo.test").await;
    t.goto(&app, "/trainer").await;
    t.css("#code")
        .await
        .send_keys("store-greeting")
        .await
        .unwrap();
    t.css("#title")
        .await
        .send_keys("Greeting store visitors")
        .await
        .unwrap();
    t.css("#summary")
        .await
        .send_keys("How to greet and add visitors on WeCom.")
        .await
        .unwrap();
    t.css("form[action='/trainer/courses'] button")
        .await
        .click()
        .await
        .unwrap();
    // The trainer imports a GIFT file with a mistake (an answer block never closed): the file
    // is read into the editor and saved.
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("greeting.gift");
    std::fs::write(&path, "// [tag:competency=uo-rfm] [tag:difficulty=easy]\n::sg-q1:: Which greeting adds the visitor? {=Scan the store QR code ~Ask for a phone number\n").unwrap();
    t.css("#gift").await.clear().await.unwrap();
    t.css("#gift-file")
        .await
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
    let mut loaded = String::new();
    for _ in 0..50 {
        loaded = t
            .css("#gift")
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        if loaded.contains("sg-q1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        loaded.contains("Which greeting adds the visitor?"),
        "{loaded}"
    );
    t.css("form[action$='/questions'] button")
        .await
        .click()
        .await
        .unwrap();
    let page = t.wait_text("The question bank was not saved").await;
    assert!(page.contains("line"), "{page}");
    t.shot("trainer-gift-error").await;
    t.assert_accessible("course editor").await;
    // The trainer's other pages, looked at and checked for labels.
    for (path, name) in [
        ("/trainer/certifications", "trainer-certifications"),
        ("/trainer/grading", "trainer-grading"),
        ("/catalog", "catalog"),
    ] {
        t.goto(&app, path).await;
        t.shot(name).await;
        t.assert_accessible(name).await;
    }
    // The admin's and HR's other pages.
    let a = Browser::start().await;
    a.sign_in(&app, "admin@demo.test").await;
    for (path, name) in [
        ("/admin", "admin-users-and-audit"),
        ("/admin/certificates", "admin-certificates"),
        ("/admin/outbox", "admin-outbox"),
        ("/hr/positions", "hr-positions"),
    ] {
        a.goto(&app, path).await;
        a.shot(name).await;
        a.assert_accessible(name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exam_works_with_the_keyboard_alone_and_pages_switch_to_chinese() {
    let (app, _dir) = exam_app().await;
    let b = Browser::start().await;
    b.sign_in(&app, "learner@demo.test").await;
    // The dashboard shows what to do next.
    b.goto(&app, "/").await;
    b.wait_text("Certifications you can sit").await;
    b.shot("home-dashboard").await;
    b.assert_accessible("home").await;
    // The language switch in the page.
    b.css("form.lang-switch button[value='zh-CN']")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("可以参加的认证").await;
    b.shot("home-zh").await;
    b.css("form.lang-switch button[value='en']")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("Certifications you can sit").await;

    let learner = app.token("learner").await;
    let cert = cert_id(&app, &learner, "uo-open").await;
    b.goto(&app, "/certifications").await;
    b.css(&format!(
        "form[action='/certifications/{cert}/start'] button"
    ))
    .await
    .click()
    .await
    .unwrap();
    b.wait_text("Question 1 of 4").await;
    let attempt: i64 = b
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let trainer = app.token("trainer").await;
    let review = review_of(&app, &trainer, attempt).await;
    // Keyboard only: focus moves with Tab from the top of the form; Space picks the focused
    // option, arrow keys move within a group.
    let tab = fantoccini::key::Key::Tab.to_string();
    let space = fantoccini::key::Key::Space.to_string();
    let down = fantoccini::key::Key::Down.to_string();
    let enter = fantoccini::key::Key::Enter.to_string();
    b.client
        .execute("document.querySelector('#exam-form').querySelector('input:not([type=hidden])').focus()", vec![])
        .await
        .unwrap();
    let mut answered = 0;
    for q in review["questions"].as_array().unwrap() {
        let id = q["id"].as_i64().unwrap();
        let wanted = match &q["correct_response"] {
            Value::Bool(v) => v.to_string(),
            Value::String(s) => s.clone(),
            other => panic!("unexpected {other}"),
        };
        // Walk the group with the arrow key until the wanted option is focused, then Space.
        for _ in 0..6 {
            let active = b.client.active_element().await.unwrap();
            let name = active.attr("name").await.unwrap().unwrap_or_default();
            let value = active.attr("value").await.unwrap().unwrap_or_default();
            if name == format!("q{id}") && value == wanted {
                active.send_keys(&space).await.unwrap();
                break;
            }
            if name == format!("q{id}") {
                active.send_keys(&down).await.unwrap();
            } else {
                active.send_keys(&tab).await.unwrap();
            }
        }
        assert!(
            b.css(&format!("input[name='q{id}'][value='{wanted}']"))
                .await
                .is_selected()
                .await
                .unwrap(),
            "q{id} answered with the keyboard"
        );
        answered += 1;
        // Tab to the question's flag button; Enter flags it; Tab on to the next question.
        let active = b.client.active_element().await.unwrap();
        active.send_keys(&tab).await.unwrap();
        let flag = b.client.active_element().await.unwrap();
        assert_eq!(
            flag.attr("data-flag").await.unwrap(),
            Some(id.to_string()),
            "the flag follows the options"
        );
        if answered == 1 {
            flag.send_keys(&enter).await.unwrap();
            for _ in 0..50 {
                if flag.attr("aria-pressed").await.unwrap().as_deref() == Some("true") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(
                flag.attr("aria-pressed").await.unwrap().as_deref(),
                Some("true")
            );
        }
        flag.send_keys(&tab).await.unwrap();
    }
    b.wait_text("All answers saved").await;
    // On to the submit button, and Enter.
    for _ in 0..6 {
        let active = b.client.active_element().await.unwrap();
        if active.attr("id").await.unwrap().as_deref() == Some("exam-submit") {
            active.send_keys(&enter).await.unwrap();
            break;
        }
        active.send_keys(&tab).await.unwrap();
    }
    b.client.accept_alert().await.unwrap();
    b.wait_text("Passed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_fit_a_phone_screen() {
    let (app, _dir) = exam_app().await;
    let b = Browser::start().await;
    b.client.set_window_size(390, 844).await.unwrap();
    b.sign_in(&app, "learner@demo.test").await;
    let learner = app.token("learner").await;
    let cert = cert_id(&app, &learner, "uo-open").await;
    let courses = json(app.get("/api/v1/courses?q=uo-101", &learner).await).await;
    let course = courses["items"][0]["id"].as_i64().unwrap();
    for (name, path) in [
        ("phone-home", "/".to_string()),
        ("phone-catalog", "/catalog".to_string()),
        ("phone-course", format!("/courses/{course}")),
        ("phone-certifications", "/certifications".to_string()),
        ("phone-skills", "/skills".to_string()),
        ("phone-verify", "/verify".to_string()),
    ] {
        b.goto(&app, &path).await;
        b.css("main").await;
        let overflow = b
            .client
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(0) <= 0,
            "{path} scrolls sideways by {overflow} px on a phone"
        );
        b.shot(name).await;
    }
    b.goto(&app, "/certifications").await;
    b.css(&format!(
        "form[action='/certifications/{cert}/start'] button"
    ))
    .await
    .click()
    .await
    .unwrap();
    b.wait_text("Question 1 of 4").await;
    let overflow = b
        .client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap_or(0) <= 0,
        "the exam scrolls sideways on a phone"
    );
    b.shot("phone-exam").await;
}
