//! Example actor `player`: a game player with an inventory and a score that
//! reports to the `leaderboard` actor `global`.
//!
//! | method        | payload                     | reply                                |
//! |---------------|-----------------------------|--------------------------------------|
//! | `add-item`    | `{"item":"sword","qty":2}`  | inventory `{"sword":2,...}`          |
//! | `remove-item` | `{"item":"sword","qty":1}`  | inventory (`bad-request` if too few) |
//! | `inventory`   | ignored                     | inventory                            |
//! | `add-score`   | `{"points":10}`             | `{"score":total,"rank":r or null}`   |
//! | `get`         | ignored                     | `{"score":n,"inventory":{...}}`      |
//!
//! `add-score` calls `leaderboard`/`global` method `submit` with
//! `{"player":"<own id>","score":<new total>}` inside the same turn. If that
//! call fails, the error is returned and the new score is not committed.
//! State keys: `score` (JSON integer), `inventory` (JSON object).

pub mod inventory;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use wapr_actor::{Actor, ActorRef, Error, Methods, actors, state};

use inventory::Inventory;

/// State key of the score.
const SCORE: &str = "score";
/// State key of the inventory.
const INVENTORY: &str = "inventory";
/// The leaderboard every player reports to.
const LEADERBOARD: (&str, &str) = ("leaderboard", "global");

/// Payload of `add-item` and `remove-item`.
#[derive(Debug, Deserialize)]
struct ItemChange {
    item: String,
    qty: u64,
}

/// Payload of `add-score`.
#[derive(Debug, Deserialize)]
struct AddScore {
    points: i64,
}

/// Request sent to the leaderboard's `submit`.
#[derive(Debug, Serialize)]
struct Submit<'a> {
    player: &'a str,
    score: i64,
}

/// Reply of the leaderboard's `submit`.
#[derive(Debug, Deserialize)]
struct Ranked {
    rank: Option<u32>,
}

/// Reply of `add-score`.
#[derive(Debug, Serialize)]
struct ScoreReply {
    score: i64,
    rank: Option<u32>,
}

/// Reply of `get`.
#[derive(Debug, Serialize)]
struct Profile {
    score: i64,
    inventory: Inventory,
}

/// The player actor; it remembers its own id to report to the leaderboard.
#[derive(Debug)]
pub struct Player {
    id: String,
}

impl Player {
    fn add_item(&mut self, req: ItemChange) -> Result<Inventory, Error> {
        let mut inv = load_inventory()?;
        inventory::add(&mut inv, &req.item, req.qty)?;
        state::set(INVENTORY, &inv)?;
        Ok(inv)
    }

    fn remove_item(&mut self, req: ItemChange) -> Result<Inventory, Error> {
        let mut inv = load_inventory()?;
        inventory::remove(&mut inv, &req.item, req.qty)?;
        state::set(INVENTORY, &inv)?;
        Ok(inv)
    }

    fn inventory(&mut self, _: IgnoredAny) -> Result<Inventory, Error> {
        load_inventory()
    }

    fn add_score(&mut self, req: AddScore) -> Result<ScoreReply, Error> {
        let score = load_score()?
            .checked_add(req.points)
            .ok_or_else(|| Error::bad_request("the score would overflow"))?;
        state::set(SCORE, &score)?;
        let (board_type, board_id) = LEADERBOARD;
        let submit = Submit {
            player: &self.id,
            score,
        };
        let ranked: Ranked = actors::call(board_type, board_id, "submit", &submit)?;
        Ok(ScoreReply {
            score,
            rank: ranked.rank,
        })
    }

    fn get(&mut self, _: IgnoredAny) -> Result<Profile, Error> {
        Ok(Profile {
            score: load_score()?,
            inventory: load_inventory()?,
        })
    }
}

fn load_score() -> Result<i64, Error> {
    state::get_or_default(SCORE)
}

fn load_inventory() -> Result<Inventory, Error> {
    state::get_or_default(INVENTORY)
}

impl Actor for Player {
    fn activate(self_ref: ActorRef) -> Result<Self, Error> {
        Ok(Player {
            id: self_ref.actor_id,
        })
    }

    fn methods() -> Methods<Self> {
        Methods::new()
            .method("add-item", Self::add_item)
            .method("remove-item", Self::remove_item)
            .method("inventory", Self::inventory)
            .method("add-score", Self::add_score)
            .method("get", Self::get)
    }
}

wapr_actor::export_actor!(Player);

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use serde_json::{Value, json};
    use wapr_actor::testing::{self, TestActor};
    use wapr_actor::{ActorRef, ErrorKind};

    use super::*;

    fn player() -> TestActor<Player> {
        TestActor::activate("player", "p1").unwrap()
    }

    #[test]
    fn items_round_trip() {
        let mut p = player();
        let inv: Value = p
            .invoke_json("add-item", &json!({"item": "sword", "qty": 2}))
            .unwrap();
        assert_eq!(inv, json!({"sword": 2}));
        let inv: Value = p
            .invoke_json("remove-item", &json!({"item": "sword", "qty": 1}))
            .unwrap();
        assert_eq!(inv, json!({"sword": 1}));
        let err = p
            .invoke_json::<_, Value>("remove-item", &json!({"item": "sword", "qty": 2}))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert_eq!(
            p.invoke_json::<_, Value>("inventory", &()).unwrap(),
            json!({"sword": 1})
        );
        assert_eq!(testing::state_json(INVENTORY), Some(json!({"sword": 1})));
    }

    #[test]
    fn add_score_reports_to_the_leaderboard() {
        let seen: Rc<RefCell<Vec<(ActorRef, String, Value)>>> = Rc::default();
        let log = Rc::clone(&seen);
        testing::on_call(move |target, method, payload| {
            let body: Value = serde_json::from_slice(payload).unwrap();
            log.borrow_mut()
                .push((target.clone(), method.to_owned(), body));
            Ok(br#"{"rank":3}"#.to_vec())
        });

        let mut p = player();
        let reply: Value = p.invoke_json("add-score", &json!({"points": 10})).unwrap();
        assert_eq!(reply, json!({"score": 10, "rank": 3}));
        let reply: Value = p.invoke_json("add-score", &json!({"points": 5})).unwrap();
        assert_eq!(reply, json!({"score": 15, "rank": 3}));

        let seen = seen.borrow();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].0, ActorRef::new("leaderboard", "global"));
        assert_eq!(seen[1].1, "submit");
        assert_eq!(seen[1].2, json!({"player": "p1", "score": 15}));

        let profile: Value = p.invoke_json("get", &()).unwrap();
        assert_eq!(profile, json!({"score": 15, "inventory": {}}));
    }

    #[test]
    fn a_failed_leaderboard_call_fails_the_turn_and_keeps_the_score() {
        testing::on_call(|_, _, _| Err(Error::unavailable("leaderboard is down")));
        let mut p = player();
        let err = p
            .invoke_json::<_, Value>("add-score", &json!({"points": 10}))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(
            testing::state_bytes(SCORE),
            None,
            "the turn's write was rolled back"
        );
    }

    #[test]
    fn rank_null_passes_through() {
        testing::on_call(|_, _, _| Ok(br#"{"rank":null}"#.to_vec()));
        let reply: Value = player()
            .invoke_json("add-score", &json!({"points": 1}))
            .unwrap();
        assert_eq!(reply, json!({"score": 1, "rank": null}));
    }
}
