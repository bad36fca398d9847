//! Lobby queue rules: ticket numbers, priority, which ticket a window calls next, how many are ahead,
//! and the wait estimate. Pure: the store feeds it the waiting tickets and applies its answer.
//!
//! The call-next rule (documented for the hall):
//! 1. A window serves an ordered list of queues; it calls from the first of them that has anyone waiting.
//! 2. Within that queue, priority tickets (elderly, disabled, pregnant, appointment) go ahead of normal
//!    ones — but at most `max_priority_in_a_row` priority tickets in a row while normal tickets wait,
//!    after which the longest-waiting normal ticket is called.
//! 3. Within a class, strictly by arrival (`sort_key`, then ticket id).

use crate::error::FieldError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// China has one time zone and no daylight saving: local time is UTC+8.
pub const SHANGHAI_OFFSET_HOURS: i64 = 8;

/// The local calendar day of an instant (unix milliseconds): numbering restarts at local midnight.
pub fn local_day(ms: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| (t + Duration::hours(SHANGHAI_OFFSET_HOURS)).date_naive())
        .unwrap_or_default()
}

/// Why a ticket may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Normal,
    Elderly,
    Disabled,
    Pregnant,
    Appointment,
}

impl Priority {
    pub const ALL: [Priority; 5] = [Self::Normal, Self::Elderly, Self::Disabled, Self::Pregnant, Self::Appointment];
    pub fn code(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Elderly => "elderly",
            Self::Disabled => "disabled",
            Self::Pregnant => "pregnant",
            Self::Appointment => "appointment",
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            Self::Normal => "普通",
            Self::Elderly => "老年人",
            Self::Disabled => "残疾人",
            Self::Pregnant => "孕妇",
            Self::Appointment => "预约",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Elderly => "Elderly",
            Self::Disabled => "Disabled",
            Self::Pregnant => "Pregnant",
            Self::Appointment => "Appointment",
        }
    }
    pub fn is_priority(self) -> bool {
        self != Self::Normal
    }
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let t = s.trim();
        Self::ALL.into_iter().find(|p| p.code() == t || p.zh() == t).ok_or_else(|| {
            FieldError::new(
                "priority",
                format!("优先类别“{t}”无效，可选：普通、老年人、残疾人、孕妇、预约"),
                format!("unknown priority \"{t}\"; one of normal, elderly, disabled, pregnant, appointment"),
            )
        })
    }
}

/// A ticket's number as the hall shows and speaks it: the queue's prefix and at least three digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketNumber {
    pub prefix: String,
    pub number: i64,
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", self.prefix, self.number)
    }
}

/// A queue prefix: one or two capital letters.
pub fn parse_prefix(s: &str) -> Result<String, FieldError> {
    let t = s.trim();
    if (1..=2).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(t.to_string())
    } else {
        Err(FieldError::new("prefix", "号码前缀为1至2个大写字母", "a prefix is one or two capital letters"))
    }
}

/// What the voice says and the screen shows for a call.
pub fn call_text(number: &TicketNumber, window: &str) -> String {
    format!("请 {number} 号到 {window} 窗口办理")
}

/// The SMS for a call, signed with the hall's name.
pub fn call_sms(number: &TicketNumber, window: &str, hall: &str) -> String {
    format!("请{number}号到{window}窗口办理【{hall}】")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRule {
    /// How many priority tickets a queue may call in a row while normal tickets wait.
    pub max_priority_in_a_row: u32,
}

impl Default for CallRule {
    fn default() -> Self {
        CallRule { max_priority_in_a_row: 2 }
    }
}

/// A waiting ticket as the rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub id: i64,
    pub priority: bool,
    /// Arrival order; smaller first. Transfers and "running late" move it.
    pub sort_key: i64,
}

/// One queue's waiting tickets and how many priority tickets it has called in a row.
#[derive(Debug, Clone, Default)]
pub struct QueueState {
    pub waiting: Vec<Waiting>,
    pub priority_streak: u32,
}

/// The choice: which queue (index in the window's list), which ticket, and the queue's new streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub queue: usize,
    pub ticket: i64,
    pub priority_streak: u32,
}

fn earliest(w: &[Waiting], priority: bool) -> Option<Waiting> {
    w.iter().filter(|t| t.priority == priority).min_by_key(|t| (t.sort_key, t.id)).copied()
}

/// Picks within one queue.
pub fn choose_in_queue(q: &QueueState, rule: CallRule) -> Option<(i64, u32)> {
    let p = earliest(&q.waiting, true);
    let n = earliest(&q.waiting, false);
    match (p, n) {
        (Some(p), Some(_)) if q.priority_streak < rule.max_priority_in_a_row => Some((p.id, q.priority_streak + 1)),
        (_, Some(n)) => Some((n.id, 0)),
        // Only priority tickets wait: no normal one is held back, so the streak does not grow.
        (Some(p), None) => Some((p.id, q.priority_streak)),
        (None, None) => None,
    }
}

/// Picks what a window calls next from its ordered queues.
pub fn choose_next(queues: &[QueueState], rule: CallRule) -> Option<Choice> {
    queues.iter().enumerate().find_map(|(i, q)| {
        choose_in_queue(q, rule).map(|(ticket, priority_streak)| Choice { queue: i, ticket, priority_streak })
    })
}

/// The order in which a queue's waiting tickets would be called if nobody else arrived: the two
/// classes by arrival, merged by the rule. O(n log n), so it is cheap to ask on every action.
pub fn call_order(q: &QueueState, rule: CallRule) -> Vec<i64> {
    let mut priority: Vec<Waiting> = q.waiting.iter().filter(|t| t.priority).copied().collect();
    let mut normal: Vec<Waiting> = q.waiting.iter().filter(|t| !t.priority).copied().collect();
    priority.sort_by_key(|t| (t.sort_key, t.id));
    normal.sort_by_key(|t| (t.sort_key, t.id));
    let (mut p, mut n) = (priority.into_iter().peekable(), normal.into_iter().peekable());
    let mut streak = q.priority_streak;
    let mut order = Vec::with_capacity(q.waiting.len());
    loop {
        let take_priority = match (p.peek(), n.peek()) {
            (Some(_), Some(_)) => streak < rule.max_priority_in_a_row,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_priority {
            if n.peek().is_some() {
                streak += 1;
            }
            order.extend(p.next().map(|t| t.id));
        } else {
            streak = 0;
            order.extend(n.next().map(|t| t.id));
        }
    }
    order
}

/// How many would be called before `ticket` (None if it is not waiting in this queue).
pub fn ahead_of(q: &QueueState, rule: CallRule, ticket: i64) -> Option<usize> {
    call_order(q, rule).iter().position(|id| *id == ticket)
}

/// Estimated wait in whole minutes: the people ahead are shared by the windows serving the queue,
/// each taking the recent mean service time; the ticket's own turn starts when they are done.
/// Without recent data, `default_service_secs` stands in.
pub fn estimate_wait_minutes(
    ahead: usize,
    recent_service_secs: &[i64],
    open_windows: usize,
    default_service_secs: i64,
) -> i64 {
    let mean = if recent_service_secs.is_empty() {
        default_service_secs as f64
    } else {
        recent_service_secs.iter().sum::<i64>() as f64 / recent_service_secs.len() as f64
    };
    let windows = open_windows.max(1) as f64;
    ((ahead as f64 * mean / windows) / 60.0).ceil() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn w(id: i64, priority: bool) -> Waiting {
        Waiting { id, priority, sort_key: id * 1000 }
    }

    #[test]
    fn numbers_and_texts() {
        let n = TicketNumber { prefix: "A".into(), number: 23 };
        assert_eq!(n.to_string(), "A023");
        assert_eq!(TicketNumber { prefix: "B".into(), number: 1234 }.to_string(), "B1234");
        assert_eq!(call_text(&n, "A3"), "请 A023 号到 A3 窗口办理");
        assert_eq!(call_sms(&n, "A3", "常山县行政服务中心"), "请A023号到A3窗口办理【常山县行政服务中心】");
        assert!(parse_prefix("AB").is_ok() && parse_prefix("a").is_err() && parse_prefix("ABC").is_err());
    }

    #[test]
    fn local_midnight_is_utc_16() {
        // 2026-03-01 15:59:59 UTC is 23:59:59 in Shanghai; a second later is the next local day.
        let before = 1_772_380_799_000;
        assert_eq!(local_day(before).to_string(), "2026-03-01");
        assert_eq!(local_day(before + 1000).to_string(), "2026-03-02");
    }

    #[test]
    fn priority_goes_ahead_but_at_most_n_in_a_row() {
        let q = QueueState {
            waiting: vec![w(1, false), w(2, false), w(3, true), w(4, true), w(5, true), w(6, false)],
            priority_streak: 0,
        };
        let rule = CallRule { max_priority_in_a_row: 2 };
        assert_eq!(call_order(&q, rule), vec![3, 4, 1, 5, 2, 6]);
        assert_eq!(ahead_of(&q, rule, 1), Some(2));
        // With no normal ticket waiting, priority tickets are not held back.
        let only = QueueState { waiting: vec![w(7, true), w(8, true), w(9, true)], priority_streak: 2 };
        assert_eq!(call_order(&only, rule), vec![7, 8, 9]);
        // A streak carried over from earlier calls counts.
        let carried = QueueState { waiting: vec![w(1, false), w(2, true)], priority_streak: 2 };
        assert_eq!(call_order(&carried, rule), vec![1, 2]);
    }

    #[test]
    fn windows_take_their_first_queue_with_anyone_waiting() {
        let empty = QueueState::default();
        let zone = QueueState { waiting: vec![w(10, false)], priority_streak: 0 };
        let general = QueueState { waiting: vec![w(1, false)], priority_streak: 0 };
        let c = choose_next(&[empty.clone(), zone, general], CallRule::default()).unwrap();
        assert_eq!((c.queue, c.ticket), (1, 10));
        assert_eq!(choose_next(&[empty], CallRule::default()), None);
    }

    #[test]
    fn estimates() {
        assert_eq!(estimate_wait_minutes(0, &[600], 2, 300), 0);
        assert_eq!(estimate_wait_minutes(4, &[], 2, 300), 10);
        assert_eq!(estimate_wait_minutes(3, &[120, 240], 1, 300), 9);
    }

    proptest! {
        /// Every ticket is called exactly once; within a class strictly by arrival; never more than N
        /// priority tickets in a row while a normal one waits.
        #[test]
        fn call_order_is_fair(flags in proptest::collection::vec(any::<bool>(), 0..60), n in 1u32..4, streak in 0u32..4) {
            let waiting: Vec<Waiting> = flags.iter().enumerate().map(|(i, p)| w(i as i64, *p)).collect();
            let rule = CallRule { max_priority_in_a_row: n };
            let q = QueueState { waiting: waiting.clone(), priority_streak: streak.min(n) };
            let order = call_order(&q, rule);
            // The fast merge agrees with calling one at a time by the rule.
            let mut state = q.clone();
            let mut one_by_one = Vec::new();
            while let Some((id, s)) = choose_in_queue(&state, rule) {
                one_by_one.push(id);
                state.waiting.retain(|t| t.id != id);
                state.priority_streak = s;
            }
            prop_assert_eq!(&order, &one_by_one);
            let mut sorted = order.clone();
            sorted.sort();
            prop_assert_eq!(sorted, (0..flags.len() as i64).collect::<Vec<_>>());
            for class in [true, false] {
                let ids: Vec<i64> = order.iter().copied().filter(|id| flags[*id as usize] == class).collect();
                prop_assert!(ids.windows(2).all(|p| p[0] < p[1]));
            }
            let mut run = streak.min(n);
            for (i, id) in order.iter().enumerate() {
                let normals_left = order[i..].iter().any(|x| !flags[*x as usize]);
                if flags[*id as usize] {
                    if normals_left { run += 1; prop_assert!(run <= n); }
                } else {
                    run = 0;
                }
            }
        }
    }
}
