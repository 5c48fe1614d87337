//! The demo organization's staff: the positions of the self-built template, a headquarters team
//! and three stores (a store manager and guides each), with evidence, so every gap report shows
//! something real on first run. Created once, after the catalog is imported.
use chrono::{Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
};

use super::entities::{position, requirement};
use crate::assessment::entities::evidence;
use crate::auth::entities::{organization, user};
use crate::auth::model::{DisplayName, Email, Role};
use crate::auth::service::NewUser;
use crate::catalog::entities::job_category;
use crate::i18n::Lang;

/// Department, position code, name, manages the department.
const STAFF: &[(&str, &str, &str, bool)] = &[
    ("Headquarters", "data-operator", "Zhou Min", true),
    ("Headquarters", "content-operator", "Lin Xiaoyu", false),
    ("Headquarters", "content-operator", "Emma Clarke", false),
    ("Headquarters", "community-operator", "Guo Jie", false),
    ("Headquarters", "community-operator", "Sun Li", false),
    ("Headquarters", "user-operator", "He Yun", false),
    ("Headquarters", "activity-operator", "Ma Tao", false),
    ("Headquarters", "mall-operator", "Luo Qian", false),
    ("Headquarters", "mall-operator", "Ethan Wu", false),
    (
        "Shanghai Xuhui store",
        "store-guide",
        "Xu Wen (store manager)",
        true,
    ),
    ("Shanghai Xuhui store", "store-guide", "陈静", false),
    ("Shanghai Xuhui store", "store-guide", "Yang Fan", false),
    ("Shanghai Xuhui store", "store-guide", "Zhu Lan", false),
    ("Shanghai Xuhui store", "store-guide", "Kim Min-ji", false),
    ("Shanghai Xuhui store", "store-guide", "Hu Bin", false),
    (
        "Hangzhou West Lake store",
        "store-guide",
        "Shen Hao (store manager)",
        true,
    ),
    ("Hangzhou West Lake store", "store-guide", "王芳", false),
    ("Hangzhou West Lake store", "store-guide", "Tang Yue", false),
    ("Hangzhou West Lake store", "store-guide", "Feng Rui", false),
    ("Hangzhou West Lake store", "store-guide", "Song Jia", false),
    ("Hangzhou West Lake store", "store-guide", "Cao Ning", false),
    (
        "Chengdu Taikoo Li store",
        "store-guide",
        "Deng Kai (store manager)",
        true,
    ),
    ("Chengdu Taikoo Li store", "store-guide", "李雪", false),
    ("Chengdu Taikoo Li store", "store-guide", "Peng Yu", false),
    ("Chengdu Taikoo Li store", "store-guide", "Wei Lin", false),
    (
        "Chengdu Taikoo Li store",
        "store-guide",
        "Yamada Aoi",
        false,
    ),
    ("Chengdu Taikoo Li store", "store-guide", "Jiang Tao", false),
];

/// Creates the demo staff once (when the demo organization has no positions yet and the
/// catalog's seven models are imported). Answers how many people were added.
pub async fn ensure_demo_staff(db: &DatabaseConnection) -> anyhow::Result<usize> {
    let Some(org) = organization::Entity::find()
        .filter(organization::Column::Slug.eq(crate::auth::seed::DEMO_SLUG))
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let has_positions = position::Entity::find()
        .filter(position::Column::OrgId.eq(org.id))
        .count(db)
        .await?
        > 0;
    if has_positions || job_category::Entity::find().count(db).await? < 7 {
        return Ok(0);
    }
    let txn = crate::db::begin_write(db).await?;
    super::positions::apply_template(&txn, org.id, None, "self-built")
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let positions: Vec<position::Model> = position::Entity::find()
        .filter(position::Column::OrgId.eq(org.id))
        .all(&txn)
        .await?;
    let code_of = |code: &str| positions.iter().find(|p| p.code == code).map(|p| p.id);
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_125);
    let now = Utc::now();
    let mut managers: Vec<(&str, i64)> = Vec::new();
    let mut people: Vec<(i64, Option<i64>)> = Vec::new();
    for (i, (department, code, name, manages)) in STAFF.iter().enumerate() {
        let new = NewUser {
            email: Email::parse("email", &format!("staff{:02}@demo.test", i + 1))
                .map_err(|e| anyhow::anyhow!("{}", e.field))?,
            display_name: DisplayName::parse("name", name)
                .map_err(|e| anyhow::anyhow!("{}", e.field))?,
            language: if name.is_ascii() {
                Lang::En
            } else {
                Lang::ZhCn
            },
            roles: vec![Role::Learner],
            password_hash: None,
        };
        let u = crate::auth::service::insert_user(&txn, org.id, &new)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let manager = managers
            .iter()
            .find(|(d, _)| d == department)
            .map(|(_, id)| *id);
        let mut active = u.into_active_model();
        active.employee_id = Set(Some(format!("D{:03}", i + 1)));
        active.department = Set(Some((*department).to_string()));
        active.position_id = Set(code_of(code));
        active.manager_id = Set(manager);
        active.from_roster = Set(true);
        let u = active.update(&txn).await?;
        if *manages {
            managers.push((department, u.id));
        }
        people.push((u.id, code_of(code)));
    }
    // The demo accounts join too: the learner is a guide in Shanghai, the trainer at HQ.
    for (email, department, code) in [
        ("learner@demo.test", "Shanghai Xuhui store", "store-guide"),
        ("trainer@demo.test", "Headquarters", "content-operator"),
    ] {
        if let Some(u) = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .filter(user::Column::OrgId.eq(org.id))
            .one(&txn)
            .await?
        {
            let manager = managers
                .iter()
                .find(|(d, _)| *d == department)
                .map(|(_, id)| *id);
            let mut active = u.into_active_model();
            active.department = Set(Some(department.to_string()));
            active.position_id = Set(code_of(code));
            active.manager_id = Set(manager);
            active.employee_id = Set(Some(format!("D{:03}", people.len() + 1)));
            let u = active.update(&txn).await?;
            people.push((u.id, code_of(code)));
        }
    }
    // Evidence around each requirement: mostly exam results, some ratings, some gaps.
    for (n, (user_id, position_id)) in people.iter().enumerate() {
        let Some(position_id) = position_id else {
            continue;
        };
        // About a third of the staff are strong: mostly at or above what the position needs.
        let strong = n % 3 == 0;
        let reqs = requirement::Entity::find()
            .filter(requirement::Column::PositionId.eq(*position_id))
            .all(&txn)
            .await?;
        for r in reqs {
            if rng.gen_bool(if strong { 0.02 } else { 0.12 }) {
                continue;
            }
            let pieces = rng.gen_range(1..=3);
            for _ in 0..pieces {
                let offset = if strong {
                    rng.gen_range(0..=1)
                } else {
                    match rng.gen_range(0..20) {
                        0 => -2,
                        1..=5 => -1,
                        6..=15 => 0,
                        _ => 1,
                    }
                };
                let level = (r.level + offset).clamp(1, 5);
                let source = match rng.gen_range(0..10) {
                    0..=5 => "exam",
                    6..=8 => "manager",
                    _ => "self",
                };
                let at = now - Duration::days(rng.gen_range(5..400));
                evidence::ActiveModel {
                    id: NotSet,
                    org_id: Set(org.id),
                    user_id: Set(*user_id),
                    competency_id: Set(r.competency_id.clone()),
                    level: Set(level),
                    source: Set(source.into()),
                    source_id: Set(None),
                    percent: Set(None),
                    recorded_by: Set(None),
                    recorded_at: Set(at),
                    note: Set(Some("demo data".into())),
                    provider: Set(None),
                    attachment: Set(None),
                    evidence_date: Set(Some(at)),
                    superseded_at: Set(None),
                }
                .insert(&txn)
                .await?;
            }
        }
    }
    txn.commit().await?;
    Ok(STAFF.len())
}
