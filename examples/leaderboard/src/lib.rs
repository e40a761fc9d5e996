//! Example actor `leaderboard`: the top 10 scores, one entry per player.
//!
//! | method   | payload                           | reply                                     |
//! |----------|-----------------------------------|-------------------------------------------|
//! | `submit` | `{"player":"p","score":n}`        | `{"rank":r}` (1-based) or `{"rank":null}` |
//! | `top`    | ignored                           | `[{"player":"p","score":n}, ...]`         |
//!
//! Only a player's best score counts. Scores are sorted high to low; among
//! equal scores the player who reached the score first ranks higher. The
//! board is stored as a JSON array under the state key `entries`.

pub mod board;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use wapr_actor::{Actor, ActorRef, Error, Methods, state};

use board::{Board, Entry};

/// State key holding the board.
const ENTRIES: &str = "entries";

/// Payload of `submit`.
#[derive(Debug, Deserialize)]
struct Submit {
    player: String,
    score: i64,
}

/// Reply of `submit`.
#[derive(Debug, Serialize)]
struct Rank {
    rank: Option<usize>,
}

/// The leaderboard actor; the board lives in state.
#[derive(Debug)]
pub struct Leaderboard;

impl Leaderboard {
    fn submit(&mut self, req: Submit) -> Result<Rank, Error> {
        if req.player.is_empty() {
            return Err(Error::bad_request("`player` must not be empty"));
        }
        let mut board: Board = state::get_or_default(ENTRIES)?;
        let before = board.clone();
        let rank = board.submit(&req.player, req.score);
        if board != before {
            state::set(ENTRIES, &board)?;
        }
        Ok(Rank { rank })
    }

    fn top(&mut self, _: IgnoredAny) -> Result<Vec<Entry>, Error> {
        let board: Board = state::get_or_default(ENTRIES)?;
        Ok(board.entries().to_vec())
    }
}

impl Actor for Leaderboard {
    fn activate(_self_ref: ActorRef) -> Result<Self, Error> {
        Ok(Leaderboard)
    }

    fn methods() -> Methods<Self> {
        Methods::new()
            .method("submit", Self::submit)
            .method("top", Self::top)
    }
}

wapr_actor::export_actor!(Leaderboard);

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use wapr_actor::ErrorKind;
    use wapr_actor::testing::{self, TestActor};

    use super::*;

    #[test]
    fn submit_and_top_through_the_actor() {
        let mut lb = TestActor::<Leaderboard>::activate("leaderboard", "global").unwrap();
        let r: Value = lb
            .invoke_json("submit", &json!({"player": "ann", "score": 5}))
            .unwrap();
        assert_eq!(r, json!({"rank": 1}));
        let r: Value = lb
            .invoke_json("submit", &json!({"player": "bob", "score": 9}))
            .unwrap();
        assert_eq!(r, json!({"rank": 1}));
        let top: Value = lb.invoke_json("top", &()).unwrap();
        assert_eq!(
            top,
            json!([{"player": "bob", "score": 9}, {"player": "ann", "score": 5}])
        );
        assert_eq!(testing::state_json(ENTRIES), Some(top));
    }

    #[test]
    fn rank_is_null_outside_the_top_ten() {
        let mut lb = TestActor::<Leaderboard>::activate("leaderboard", "global").unwrap();
        for i in 0..10 {
            lb.invoke_json::<_, Value>("submit", &json!({"player": format!("p{i}"), "score": 100}))
                .unwrap();
        }
        let r: Value = lb
            .invoke_json("submit", &json!({"player": "late", "score": 1}))
            .unwrap();
        assert_eq!(r, json!({"rank": null}));
    }

    #[test]
    fn invalid_submissions_are_bad_requests() {
        let mut lb = TestActor::<Leaderboard>::activate("leaderboard", "global").unwrap();
        for payload in [
            &b"{\"player\":\"\",\"score\":1}"[..],
            b"{\"player\":\"a\"}",
            b"",
        ] {
            let err = lb.invoke("submit", payload).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{err}");
        }
        assert!(testing::state_keys().is_empty());
    }
}
