//! Catalogue search in memory: Chinese substrings, full pinyin and pinyin initials, ranked so that an
//! item whose own name matches comes before one that matches only by keyword, zone or department.
//! Citizens type `sb`, `shebao` or `社保`; all three should land on the social-insurance items.

use crate::catalogue::{Channel, Item, TripLevel};
use pinyin::ToPinyin;
use serde::Serialize;

/// A text with its pinyin forms, prepared once when the index is built.
#[derive(Debug, Clone)]
struct Keyed {
    text: String,
    /// Full pinyin without tones, lowercase, syllables concatenated (婚姻 → hunyin); non-Chinese
    /// characters kept as lowercase.
    full: String,
    /// Byte offsets in `full` where a character's syllable starts: pinyin matches must start at one,
    /// otherwise `an` would match nearly everything.
    starts: Vec<usize>,
    /// First letters (婚姻登记 → hydj).
    initials: String,
    /// A 64-bit Bloom filter of every character in the three forms: a term with a character outside
    /// it cannot match, which rules out most entries before any substring search.
    chars: u64,
}

fn char_bit(c: char) -> u64 {
    1u64 << ((c as u32).wrapping_mul(2_654_435_761) >> 26)
}

fn char_mask(s: &str) -> u64 {
    s.chars().fold(0, |m, c| m | char_bit(c))
}

impl Keyed {
    fn new(text: &str) -> Self {
        let mut full = String::new();
        let mut starts = Vec::new();
        let mut initials = String::new();
        for c in text.chars() {
            if c.is_whitespace() {
                continue;
            }
            starts.push(full.len());
            match c.to_pinyin() {
                Some(p) => {
                    full.push_str(p.plain());
                    initials.push_str(p.first_letter());
                }
                None => {
                    for l in c.to_lowercase() {
                        full.push(l);
                        initials.push(l);
                    }
                }
            }
        }
        let text = text.to_lowercase();
        let chars = char_mask(&text) | char_mask(&full) | char_mask(&initials);
        Keyed { text, full, starts, initials, chars }
    }

    /// The best score this text gives a query term, with weights by how the term matched.
    fn score(&self, term: &Term, w: &Weights) -> u32 {
        if term.chars & !self.chars != 0 {
            return 0;
        }
        let mut best = 0;
        if self.text == term.text {
            best = best.max(w.exact);
        } else if let Some(pos) = self.text.find(&term.text) {
            // Earlier is better: 社保卡申领 before 补办社保卡.
            let penalty = self.text[..pos].chars().count() as u32;
            best = best.max(if pos == 0 { w.prefix } else { w.contains.saturating_sub(penalty.min(50)) });
        }
        if term.ascii && !term.text.is_empty() {
            if self.full == term.text || self.initials == term.text {
                best = best.max(w.exact.saturating_sub(10));
            }
            if self.full.starts_with(&term.text) {
                best = best.max(w.prefix.saturating_sub(20));
            } else if self.full.match_indices(&term.text).any(|(i, _)| self.starts.binary_search(&i).is_ok()) {
                best = best.max(w.contains.saturating_sub(30));
            }
            if term.text.len() >= 2 {
                if self.initials.starts_with(&term.text) {
                    best = best.max(w.prefix.saturating_sub(40));
                } else if self.initials.contains(&term.text) {
                    best = best.max(w.contains.saturating_sub(120));
                }
            }
        }
        best
    }
}

/// How much a match is worth, by where it was found.
struct Weights {
    exact: u32,
    prefix: u32,
    contains: u32,
}

const NAME: Weights = Weights { exact: 1000, prefix: 900, contains: 800 };
const KEYWORD: Weights = Weights { exact: 850, prefix: 700, contains: 600 };
const CODE: Weights = Weights { exact: 950, prefix: 500, contains: 400 };
const ZONE_OR_DEPARTMENT: Weights = Weights { exact: 450, prefix: 350, contains: 300 };

struct Term {
    text: String,
    ascii: bool,
    chars: u64,
}

/// Filters and paging for a search.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub q: String,
    /// Only items of places under this division-code prefix (one county's catalogue).
    pub place_prefix: Option<String>,
    pub department: Option<String>,
    pub zone: Option<String>,
    pub trip_level: Option<TripLevel>,
    pub channel: Option<Channel>,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// Position in the index (what [`SearchIndex::item`] takes).
    pub index: usize,
    pub score: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub total: usize,
    pub hits: Vec<Hit>,
}

struct Entry {
    item: Item,
    place: String,
    name: Keyed,
    /// Characters in the name: shorter (more specific) names rank first among equals.
    name_len: usize,
    code: Keyed,
    /// Keywords and zone/department names are shared by many items, so they live once in the
    /// index's pools and each query scores every distinct one once.
    keywords: Vec<u32>,
    context: Vec<u32>,
}

/// The names of an item's department and zone, so that `民政` finds 民政局's items.
pub struct ItemContext {
    /// The county that implements the item.
    pub place: String,
    pub department_names: Vec<String>,
    pub zone_names: Vec<String>,
}

pub struct SearchIndex {
    entries: Vec<Entry>,
    keyword_pool: Vec<Keyed>,
    context_pool: Vec<Keyed>,
}

/// Interns a text into a pool of prepared texts.
fn intern(pool: &mut Vec<Keyed>, index: &mut std::collections::HashMap<String, u32>, text: &str) -> u32 {
    if let Some(i) = index.get(text) {
        return *i;
    }
    let i = pool.len() as u32;
    pool.push(Keyed::new(text));
    index.insert(text.to_string(), i);
    i
}

impl SearchIndex {
    pub fn build(items: Vec<(Item, ItemContext)>) -> Self {
        let (mut keyword_pool, mut context_pool) = (Vec::new(), Vec::new());
        let (mut keyword_ix, mut context_ix) = (std::collections::HashMap::new(), std::collections::HashMap::new());
        let mut entries: Vec<Entry> = items
            .into_iter()
            .map(|(item, ctx)| Entry {
                name: Keyed::new(&item.name),
                name_len: item.name.chars().count(),
                code: Keyed::new(item.code.as_str()),
                keywords: item.keywords.iter().map(|k| intern(&mut keyword_pool, &mut keyword_ix, k)).collect(),
                context: ctx
                    .department_names
                    .iter()
                    .chain(ctx.zone_names.iter())
                    .map(|s| intern(&mut context_pool, &mut context_ix, s))
                    .collect(),
                place: ctx.place,
                item,
            })
            .collect();
        entries.sort_by(|a, b| a.item.code.cmp(&b.item.code));
        SearchIndex { entries, keyword_pool, context_pool }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The place of the item at `index`.
    pub fn place(&self, index: usize) -> Option<&str> {
        self.entries.get(index).map(|e| e.place.as_str())
    }

    pub fn item(&self, index: usize) -> Option<&Item> {
        self.entries.get(index).map(|e| &e.item)
    }

    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.entries.iter().map(|e| &e.item)
    }

    pub fn search(&self, q: &SearchQuery) -> SearchResult {
        let terms: Vec<Term> =
            q.q.split_whitespace()
                .map(|t| {
                    let text = t.to_lowercase();
                    Term { ascii: text.is_ascii(), chars: char_mask(&text), text }
                })
                .collect();
        // Shared texts are scored once per term.
        let keyword_scores: Vec<Vec<u32>> =
            terms.iter().map(|t| self.keyword_pool.iter().map(|k| k.score(t, &KEYWORD)).collect()).collect();
        let context_scores: Vec<Vec<u32>> =
            terms.iter().map(|t| self.context_pool.iter().map(|k| k.score(t, &ZONE_OR_DEPARTMENT)).collect()).collect();
        let mut hits: Vec<Hit> = Vec::new();
        for (index, e) in self.entries.iter().enumerate() {
            let it = &e.item;
            if q.place_prefix.as_deref().is_some_and(|p| !e.place.starts_with(p))
                || q.department.as_deref().is_some_and(|d| d != it.department)
                || q.zone.as_deref().is_some_and(|z| z != it.zone)
                || q.trip_level.is_some_and(|t| t != it.trip_level)
                || q.channel.is_some_and(|c| !it.has_channel(c))
            {
                continue;
            }
            let mut total = 0u32;
            let mut all = true;
            for (ti, t) in terms.iter().enumerate() {
                let s = e
                    .name
                    .score(t, &NAME)
                    .max(e.code.score(t, &CODE))
                    .max(e.keywords.iter().map(|k| keyword_scores[ti][*k as usize]).max().unwrap_or(0))
                    .max(e.context.iter().map(|k| context_scores[ti][*k as usize]).max().unwrap_or(0));
                if s == 0 {
                    all = false;
                    break;
                }
                total += s;
            }
            if all {
                hits.push(Hit { index, score: total });
            }
        }
        // Best first; among equals the shorter (more specific) name, then the code (index order).
        let key = |h: &Hit| (std::cmp::Reverse(h.score), self.entries[h.index].name_len, h.index);
        let limit = if q.limit == 0 { 20 } else { q.limit };
        let wanted = q.offset.saturating_add(limit);
        if hits.len() > wanted && wanted > 0 {
            // Only the page asked for needs ordering.
            hits.select_nth_unstable_by_key(wanted - 1, key);
            hits[..wanted].sort_unstable_by_key(key);
        } else {
            hits.sort_unstable_by_key(key);
        }
        let total = hits.len();
        let hits = hits.into_iter().skip(q.offset).take(limit).collect();
        SearchResult { total, hits }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::WorkingDays;
    use crate::catalogue::{ItemCode, ItemKind};
    use crate::place::PlaceLevel;

    fn item(code: &str, name: &str, zone: &str, keywords: &[&str]) -> (Item, ItemContext) {
        let zone_name = match zone {
            "social" => "社保",
            "tax" => "税务",
            _ => "综合事务",
        };
        (
            Item {
                code: ItemCode::parse(code).unwrap(),
                name: name.into(),
                department: "d".into(),
                zone: zone.into(),
                kind: ItemKind::PublicService,
                trip_level: TripLevel::One,
                channels: vec![Channel::Window],
                general_acceptance: true,
                livelihood: true,
                statutory_days: WorkingDays::new(5),
                promised_days: WorkingDays::new(1),
                lowest_level: PlaceLevel::County,
                fees: String::new(),
                legal_basis: String::new(),
                keywords: keywords.iter().map(|s| s.to_string()).collect(),
                materials: vec![],
                fields: vec![],
            },
            ItemContext {
                place: "330822".into(),
                department_names: vec!["某局".into()],
                zone_names: vec![zone_name.into()],
            },
        )
    }

    fn index() -> SearchIndex {
        SearchIndex::build(vec![
            item("T-1", "个人所得税申报", "tax", &[]),
            item("S-1", "社保卡申领", "social", &["社保"]),
            item("S-2", "社会保险职工参保登记", "social", &["社保"]),
            item("M-1", "内地居民结婚登记", "general", &["结婚"]),
            item("M-2", "婚姻登记档案查询", "general", &[]),
            item("G-1", "安全生产许可", "general", &[]),
        ])
    }

    fn codes(ix: &SearchIndex, q: &str) -> Vec<String> {
        let r = ix.search(&SearchQuery { q: q.into(), ..Default::default() });
        r.hits.iter().map(|h| ix.item(h.index).unwrap().code.to_string()).collect()
    }

    #[test]
    fn initials_full_pinyin_and_chinese_find_social_insurance_first() {
        let ix = index();
        for q in ["sb", "shebao", "社保", "SB"] {
            let c = codes(&ix, q);
            assert!(c.len() >= 2, "{q}: {c:?}");
            assert!(c[..2].contains(&"S-1".to_string()) && c[..2].contains(&"S-2".to_string()), "{q}: {c:?}");
        }
    }

    #[test]
    fn pinyin_matches_start_at_a_syllable() {
        let ix = index();
        assert_eq!(codes(&ix, "hunyin"), vec!["M-2"]);
        // "an" is inside "shenbao"/"huan"… but only 安全生产许可 starts a syllable with it.
        assert_eq!(codes(&ix, "anquan"), vec!["G-1"]);
        assert_eq!(codes(&ix, "jiehun")[0], "M-1");
    }

    #[test]
    fn filters_and_terms_combine() {
        let ix = index();
        let r = ix.search(&SearchQuery { q: "登记".into(), zone: Some("social".into()), ..Default::default() });
        assert_eq!(r.total, 1);
        assert_eq!(codes(&ix, "婚姻 档案"), vec!["M-2"]);
        assert!(codes(&ix, "火星").is_empty());
        assert_eq!(ix.search(&SearchQuery::default()).total, 6);
    }
}
