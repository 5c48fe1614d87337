//! Backups of the embedded SQLite database while the service runs, and restoring one. On
//! PostgreSQL, `pg_dump` and `pg_restore` do this (README, "Backups").
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteLockingMode, SqlitePoolOptions};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, SqlxSqliteConnector, Statement};

use crate::config::{DatabaseSettings, Settings};

/// The configured SQLite file; an error that points to pg_dump on PostgreSQL.
fn sqlite_path(settings: &Settings) -> anyhow::Result<PathBuf> {
    match &settings.database {
        DatabaseSettings::Sqlite { path } => Ok(path.clone()),
        DatabaseSettings::Url(url) if url.starts_with("sqlite:") => {
            let options = SqliteConnectOptions::from_str(url).context("invalid SQLite URL")?;
            Ok(options.get_filename().to_path_buf())
        }
        DatabaseSettings::Url(_) => bail!(
            "backup and restore work on the embedded SQLite database; on PostgreSQL use pg_dump \
             and pg_restore (see the README, \"Backups\")"
        ),
    }
}

/// One connection to a SQLite file, opened as given.
async fn open(options: SqliteConnectOptions) -> anyhow::Result<DatabaseConnection> {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// Checks that a file is a sound SQLite database with talentcert's schema; answers its size.
async fn check(file: &Path) -> anyhow::Result<u64> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let conn = open(SqliteConnectOptions::new().filename(file).read_only(true))
        .await
        .with_context(|| format!("{} is not a SQLite database", file.display()))?;
    let integrity = conn
        .query_one(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .with_context(|| format!("{} is not a SQLite database", file.display()))?
        .and_then(|row| row.try_get_by_index::<String>(0).ok())
        .unwrap_or_default();
    if integrity != "ok" {
        bail!("{} is damaged: {integrity}", file.display());
    }
    for table in ["seaql_migrations", "users", "certificates", "signing_keys"] {
        let found = conn
            .query_one(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
                [table.into()],
            ))
            .await?
            .and_then(|row| row.try_get::<i64>("", "n").ok())
            .unwrap_or(0);
        if found == 0 {
            bail!(
                "{} is not a talentcert database (no table {table})",
                file.display()
            );
        }
    }
    conn.close().await?;
    Ok(size)
}

/// `talentcert backup <file>`: `VACUUM INTO` writes a consistent copy of the database as of one
/// moment, while the service goes on reading and writing (WAL).
pub async fn backup(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let path = sqlite_path(settings)?;
    if !path.exists() {
        bail!("there is no database at {}", path.display());
    }
    if file.exists() {
        bail!("{} exists already: name a new file", file.display());
    }
    let target = file
        .to_str()
        .context("the backup file's path must be valid UTF-8")?;
    // The backup holds secrets: only its owner may read it. SQLite writes `VACUUM INTO` into an
    // existing empty file and keeps its permissions.
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(file)
            .with_context(|| format!("cannot create {}", file.display()))?;
    }
    let conn = open(
        SqliteConnectOptions::new()
            .filename(&path)
            .busy_timeout(Duration::from_secs(10)),
    )
    .await
    .with_context(|| format!("cannot open the database at {}", path.display()))?;
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [target.into()],
    ))
    .await
    .with_context(|| format!("cannot write the backup to {}", file.display()))?;
    conn.close().await?;
    let size = check(file).await?;
    println!(
        "backup of {} written to {} ({size} bytes). It holds the token secret and the \
         certificate signing keys: keep it as safe as the database.",
        path.display(),
        file.display()
    );
    Ok(())
}

/// `talentcert restore <file>`: checks the backup, makes sure no process uses the database, and
/// replaces it in one rename (the service applies newer migrations when it starts).
pub async fn restore(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let path = sqlite_path(settings)?;
    let size = check(file)
        .await
        .with_context(|| format!("{} cannot be restored", file.display()))?;
    // No process may have the database open: each one holds its lock file shared for as long
    // as it runs. Held exclusively until the new file is in place.
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let in_use = || {
        anyhow::anyhow!(
            "the database at {} is in use: stop the service, then restore",
            path.display()
        )
    };
    let lock = crate::db::open_sqlite_lock(&path)?;
    lock.try_lock().map_err(|_| in_use())?;
    if path.exists() {
        // A second guard, for a process that does not take the lock file (an older version, the
        // sqlite3 shell): an exclusive SQLite lock, without waiting.
        let conn = open(
            SqliteConnectOptions::new()
                .filename(&path)
                .locking_mode(SqliteLockingMode::Exclusive)
                .busy_timeout(Duration::ZERO),
        )
        .await
        .map_err(|_| in_use())?;
        conn.execute_unprepared("BEGIN EXCLUSIVE")
            .await
            .map_err(|_| in_use())?;
        conn.execute_unprepared("ROLLBACK").await?;
        conn.close().await?;
    }
    let staged = path.with_extension("restoring");
    std::fs::copy(file, &staged)
        .with_context(|| format!("cannot copy the backup to {}", staged.display()))?;
    // The database being replaced, and its write-ahead log (which must not be replayed onto the
    // restored file), are kept aside rather than deleted.
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    for suffix in ["", "-wal", "-shm"] {
        let mut from = path.clone().into_os_string();
        from.push(suffix);
        let mut aside = path.clone().into_os_string();
        aside.push(format!(".before-restore-{stamp}{suffix}"));
        match std::fs::rename(&from, &aside) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot move {from:?} aside"));
            }
            _ => {}
        }
    }
    std::fs::rename(&staged, &path)
        .with_context(|| format!("cannot move the backup into {}", path.display()))?;
    drop(lock);
    println!(
        "restored {} ({size} bytes) into {}",
        file.display(),
        path.display()
    );
    Ok(())
}
