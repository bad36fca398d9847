//! Setting up the lobby: the queues a window serves and in what order, adding queues, and a
//! queue's numbering (prefix, first number, daily maximum).

use crate::db::Store;
use crate::error::StoreError;
use crate::write::{Actor, WriteTx};
use onewindow_core::lobby;
use onewindow_core::place::PlaceCode;
use onewindow_core::FieldError;
use serde_json::json;

impl Store {
    /// Sets which queues a window serves, in order.
    pub async fn set_window_queues(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        window: &str,
        queues: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin(actor).await?;
        let (window_id, code) = tx.window(place, window).await?;
        sqlx::query("DELETE FROM window_queues WHERE window_id = $1").bind(window_id).execute(tx.conn()).await?;
        for (i, q) in queues.iter().enumerate() {
            let qid: Option<i64> =
                sqlx::query_scalar("SELECT id FROM queues WHERE place_code = $1 AND (code = $2 OR prefix = $2)")
                    .bind(place.as_str())
                    .bind(q)
                    .fetch_optional(tx.conn())
                    .await?;
            let qid = qid.ok_or_else(|| {
                StoreError::Invalid(
                    FieldError::new(
                        format!("queues[{i}]"),
                        format!("队列“{q}”不存在"),
                        format!("queue \"{q}\" does not exist"),
                    )
                    .into(),
                )
            })?;
            sqlx::query("INSERT INTO window_queues (window_id, queue_id, position) VALUES ($1, $2, $3)")
                .bind(window_id)
                .bind(qid)
                .bind(i as i64)
                .execute(tx.conn())
                .await?;
        }
        tx.record("window.queues", place.as_str(), &format!("window:{code}"), json!({"queues": queues})).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl WriteTx {
    /// Adds a queue (or changes its name, prefix and limits).
    pub async fn save_queue(
        &mut self,
        place: &str,
        code: &str,
        prefix: &str,
        name: &str,
        zone: &str,
    ) -> Result<i64, StoreError> {
        let prefix = lobby::parse_prefix(prefix)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO queues (place_code, code, prefix, name, zone_code) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (place_code, code) DO UPDATE SET prefix = excluded.prefix, name = excluded.name RETURNING id",
        )
        .bind(place)
        .bind(code)
        .bind(&prefix)
        .bind(name)
        .bind(zone)
        .fetch_one(self.conn())
        .await?;
        self.record("queue.saved", place, &format!("queue:{code}"), json!({"prefix": prefix, "name": name})).await?;
        Ok(id)
    }

    pub async fn add_window_queue(&mut self, window_id: i64, queue_id: i64, position: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO window_queues (window_id, queue_id, position) VALUES ($1, $2, $3) ON CONFLICT (window_id, queue_id) DO NOTHING")
            .bind(window_id)
            .bind(queue_id)
            .bind(position)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Changes a queue's numbering: prefix, first number of the day and the daily maximum.
    pub async fn set_queue_numbering(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        queue: &str,
        prefix: &str,
        start_number: i64,
        daily_max: i64,
    ) -> Result<(), StoreError> {
        let prefix = lobby::parse_prefix(prefix)?;
        if start_number < 0 || daily_max < start_number.max(1) || daily_max > 99_999 {
            return Err(StoreError::Invalid(
                FieldError::new(
                    "daily_max",
                    "起始号不能为负，每日上限须不小于起始号且不超过99999",
                    "the start cannot be negative; the daily maximum must be at least the start and at most 99999",
                )
                .into(),
            ));
        }
        let mut tx = self.begin(actor).await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT code FROM queues WHERE place_code = $1 AND prefix = $2 AND code <> $3")
                .bind(place.as_str())
                .bind(&prefix)
                .bind(queue)
                .fetch_optional(tx.conn())
                .await?;
        if let Some(other) = taken {
            return Err(StoreError::conflict(
                "prefix",
                format!("前缀 {prefix} 已被队列 {other} 使用"),
                format!("prefix {prefix} is used by queue {other}"),
            ));
        }
        let n = sqlx::query(
            "UPDATE queues SET prefix = $1, start_number = $2, daily_max = $3 WHERE place_code = $4 AND code = $5",
        )
        .bind(&prefix)
        .bind(start_number)
        .bind(daily_max)
        .bind(place.as_str())
        .bind(queue)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::not_found(format!("queue {queue}")));
        }
        tx.record(
            "queue.numbering",
            place.as_str(),
            &format!("queue:{queue}"),
            json!({"prefix": prefix, "start_number": start_number, "daily_max": daily_max}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
