//! How the OpenAPI document describes an item in a request body. The handlers read the body into the
//! core's lenient `ItemInput` (every field any JSON value, so that all of an item's errors are reported
//! at once and spreadsheet spellings such as 窗口 or 最多跑一次 are accepted); this is the canonical form
//! a client should send, so that generated requests (schemathesis) look like items. Only read by utoipa.
#![allow(dead_code)]

use utoipa::ToSchema;

/// A catalogue item (事项). `code` is fixed once created; the rest is validated as a whole and every
/// error is reported with its field.
#[derive(ToSchema)]
pub struct ItemBody {
    /// A unique code such as `MZJ-001`.
    #[schema(example = "MZJ-001")]
    code: String,
    name: String,
    /// Department code (or its name).
    department: String,
    /// Zone code (or its name).
    zone: String,
    kind: ItemKindBody,
    /// 0 零跑腿 (zero trips), 1 最多跑一次 (at most one), 2 跑多次 (more).
    #[schema(minimum = 0, maximum = 2)]
    trip_level: i64,
    channels: Vec<ChannelBody>,
    /// May be accepted at any general window (无差别受理).
    general_acceptance: Option<bool>,
    livelihood: Option<bool>,
    /// Statutory time limit in working days.
    #[schema(minimum = 0)]
    statutory_days: i64,
    /// Promised time limit in working days, at most the statutory one.
    #[schema(minimum = 0)]
    promised_days: i64,
    lowest_level: Option<LowestLevelBody>,
    fees: Option<String>,
    legal_basis: Option<String>,
    keywords: Option<Vec<String>>,
    materials: Option<Vec<MaterialBody>>,
    /// The online application form's fields (see docs/catalogue.md).
    fields: Option<Vec<serde_json::Value>>,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
enum ItemKindBody {
    Licensing,
    Confirmation,
    Benefit,
    Levy,
    Ruling,
    Reward,
    OtherPower,
    PublicService,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
enum ChannelBody {
    Window,
    Online,
    Mobile,
    Village,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
enum LowestLevelBody {
    County,
    Township,
    Village,
}

/// A document the item needs.
#[derive(ToSchema)]
struct MaterialBody {
    name: String,
    /// A key material cannot be missing at acceptance; a non-key one may (容缺受理).
    key: Option<bool>,
    /// Original (原件) rather than a copy.
    original: Option<bool>,
    #[schema(minimum = 1)]
    count: Option<u32>,
}
