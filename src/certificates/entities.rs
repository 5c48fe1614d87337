//! Database rows of certificates, issuers' signing keys and revocation status lists.

/// An issued certificate: its data, signed credential and PDF, frozen at issue.
pub mod certificate {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "certificates")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The verification code, without separators (13 Crockford base32 characters).
        #[sea_orm(unique)]
        pub code: String,
        /// The holder's organization.
        pub org_id: i64,
        pub user_id: i64,
        pub certification_id: i64,
        /// The attempt whose pass issued it (none for a reissue of a name).
        pub attempt_id: Option<i64>,
        /// The organization that signs it: the platform for platform certifications.
        pub issuer_org_id: i64,
        /// The key that signed the credential.
        pub kid: String,
        /// What the certificate says, frozen at issue (see `service::CertificateData`).
        pub data: Json,
        pub issued_at: DateTimeUtc,
        pub valid_until: DateTimeUtc,
        /// `valid`, `revoked` or `superseded` (expiry is read from `valid_until`).
        pub status: String,
        pub revoked_at: Option<DateTimeUtc>,
        pub revocation_reason: Option<String>,
        /// The certificate that replaced this one (a name correction or a recertification).
        pub superseded_by: Option<i64>,
        /// The certificate this one replaced.
        pub replaces: Option<i64>,
        pub status_list_id: i64,
        pub status_index: i64,
        /// The signed credential (compact JWS).
        pub credential: String,
        pub pdf: Vec<u8>,
        pub pdf_sha256: String,
        /// `public`, or `surname`: the name shows only to a verifier who types the surname.
        pub name_disclosure: String,
        /// Expiry reminders sent, e.g. `[30, 7]`.
        pub reminders: Option<Json>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An issuer's Ed25519 key. Retired keys stay so earlier credentials still verify.
pub mod signing_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        #[sea_orm(unique)]
        pub kid: String,
        /// PKCS#8 DER.
        pub private_key: Vec<u8>,
        /// The public key as a JWK (with `kid`, `alg`, `use`).
        pub public_jwk: Json,
        pub created_at: DateTimeUtc,
        pub retired_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A W3C Bitstring Status List of an issuer: each certificate holds a random index in one.
pub mod status_list {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "status_lists")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub issuer_org_id: i64,
        /// 0 for an issuer's first list, 1 when it filled up…
        pub number: i32,
        /// Entries (bits).
        pub size: i64,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
