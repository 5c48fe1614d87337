//! First-start data: the platform organization, and the demo organization with its accounts.
use chrono::Utc;
use rand::Rng;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, DatabaseConnection, EntityTrait};

use super::entities::organization;
use super::model::{DisplayName, Email, Role};
use super::password::PasswordHasher;
use super::service::{self, NewOrganization, NewUser, PLATFORM_SLUG};
use crate::error::AppError;
use crate::i18n::Lang;

/// The slug of the demo organization.
pub const DEMO_SLUG: &str = "demo-retail";

/// The demo accounts: email, display name, organization (platform or demo), roles.
pub const DEMO_ACCOUNTS: &[(&str, &str, bool, &[Role])] = &[
    (
        "platform@demo.test",
        "Platform Operator",
        true,
        &[Role::Admin, Role::Trainer],
    ),
    ("admin@demo.test", "Alex Admin", false, &[Role::Admin]),
    ("hr@demo.test", "Hu Rong (HR)", false, &[Role::Hr]),
    (
        "trainer@demo.test",
        "Tian Rui (Trainer)",
        false,
        &[Role::Trainer],
    ),
    ("learner@demo.test", "Li Na", false, &[Role::Learner]),
];

/// What seeding did, for the start-up banner.
#[derive(Debug, Default)]
pub struct SeedReport {
    /// The demo accounts exist (created now or earlier).
    pub demo_present: bool,
    /// They were created by this start.
    pub demo_created: bool,
    /// The demo password, when this start knows it.
    pub demo_password: Option<String>,
}

/// A random password that is easy to read aloud and type (no 0/O, 1/l/I).
fn readable_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// Creates the platform organization if absent (insert-if-absent: concurrent starts agree).
pub async fn ensure_platform(db: &DatabaseConnection) -> anyhow::Result<organization::Model> {
    let row = organization::ActiveModel {
        id: NotSet,
        name: Set("talentcert Platform".to_string()),
        slug: Set(PLATFORM_SLUG.to_string()),
        is_platform: Set(true),
        created_at: Set(Utc::now()),
        default_language: Set("en".to_string()),
        level_rule: Set("latest".into()),
        exam_outranks_ratings: Set(true),
        mastery_count: Set(2),
    };
    organization::Entity::insert(row)
        .on_conflict(
            OnConflict::column(organization::Column::Slug)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    service::organization_by_slug(db, PLATFORM_SLUG)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the platform organization could not be created"))
}

/// Creates the demo organization and accounts once.
pub async fn ensure_demo(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    platform: &organization::Model,
    configured_password: Option<&str>,
) -> anyhow::Result<SeedReport> {
    if service::organization_by_slug(db, DEMO_SLUG)
        .await?
        .is_some()
    {
        return Ok(SeedReport {
            demo_present: true,
            demo_created: false,
            demo_password: configured_password.map(str::to_string),
        });
    }
    let password = configured_password.map_or_else(readable_password, str::to_string);
    let hash = hasher
        .hash(&password)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let new_user = |email: &str, name: &str, roles: &[Role]| -> anyhow::Result<NewUser> {
        Ok(NewUser {
            email: Email::parse("email", email)
                .map_err(|i| anyhow::anyhow!("demo email {}", i.field))?,
            display_name: DisplayName::parse("name", name)
                .map_err(|i| anyhow::anyhow!("demo name {}", i.field))?,
            language: Lang::En,
            roles: roles.to_vec(),
            password_hash: Some(hash.clone()),
        })
    };
    let mut others = Vec::new();
    let mut first_admin = None;
    for (email, name, on_platform, roles) in DEMO_ACCOUNTS {
        let user = new_user(email, name, roles)?;
        if *on_platform {
            others.push((platform.id, user));
        } else if first_admin.is_none() && roles.contains(&Role::Admin) {
            first_admin = Some(user);
        } else {
            others.push((0, user));
        }
    }
    let admin = first_admin.ok_or_else(|| anyhow::anyhow!("the demo has no admin"))?;
    let organization = NewOrganization {
        name: DisplayName::parse("name", "Demo Retail Co.")
            .map_err(|i| anyhow::anyhow!("{}", i.field))?,
        slug: super::model::Slug::parse("slug", DEMO_SLUG)
            .map_err(|i| anyhow::anyhow!("{}", i.field))?,
        admin,
    };
    // One transaction: the demo exists whole or not at all.
    let txn = crate::db::begin_write(db).await?;
    let created = match service::insert_organization(&txn, None, &organization).await {
        Ok((org, _)) => {
            let mut result = Ok(());
            for (org_id, user) in &others {
                let org_id = if *org_id == 0 { org.id } else { *org_id };
                if let Err(err) = service::insert_user(&txn, org_id, user).await {
                    result = Err(err);
                    break;
                }
            }
            result
        }
        Err(err) => Err(err),
    };
    match created {
        Ok(()) => txn.commit().await?,
        // Another instance starting at the same moment created it first.
        Err(AppError::Conflict(_)) => {
            txn.rollback().await?;
            return Ok(SeedReport {
                demo_present: true,
                demo_created: false,
                demo_password: configured_password.map(str::to_string),
            });
        }
        Err(other) => return Err(anyhow::anyhow!("creating the demo organization: {other:?}")),
    }
    Ok(SeedReport {
        demo_present: true,
        demo_created: true,
        demo_password: Some(password),
    })
}
