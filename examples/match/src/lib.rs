//! Example actor `match`: a timed match between players, played out by a
//! timer, whose final scores go to the `leaderboard` actor.
//!
//! | method    | payload                                                        | reply                                   |
//! |-----------|----------------------------------------------------------------|-----------------------------------------|
//! | `start`   | `{"players":["ann","bob"],"tickMs":100,"ticks":50,"leaderboard":"global"}` | the match                |
//! | `state`   | ignored                                                        | the match, or `null` before any `start` |
//! | `finish`  | ignored                                                        | the match, finished                     |
//! | `advance` | `{"game":n}`                                                   | the match (the timer's callback)        |
//!
//! `start` begins a match (`leaderboard` is optional, default `global`;
//! 1–16 distinct players, `tickMs` 10–60000, `ticks` 1–10000) unless one is
//! running (`application` error). It registers the timer `tick`, due after
//! one tick and repeating every tick, `ticks` times in all (`R<ticks>/…`),
//! with the callback `advance` and the data `{"game":n}`: each fire runs
//! `advance`, which plays one tick: one player, chosen by the host's random
//! number, scores 1 to 3 points. The last tick finishes the match: each
//! player's score is submitted to `leaderboard`/`<leaderboard>` (method
//! `submit`) by an actor call, then each player's rank on its `top` is
//! recorded (`null` outside the top 10) and the status becomes `finished`.
//! `finish` does the same at once.
//!
//! Timers live in the memory of the node that registered them, so a match
//! whose node goes away would never finish; `start` therefore also registers
//! the durable reminder `deadline`, due 30 s after the last tick should have
//! fired, which finishes a match still running then. It also finishes a
//! match whose last tick failed (a failed leaderboard call fails the tick's
//! turn; the reminder is retried as reminders are). A tick or deadline of an
//! earlier match (its `game` is not the current one) changes nothing.
//!
//! The match is `{"game":n,"status":"running"|"finished","players":
//! [{"player":"ann","score":7,"rank":null}],"tick":12,"ticks":50,
//! "tickMs":100,"leaderboard":"global","startedAt":"<RFC 3339>",
//! "finishedAt":null}`, stored under the state key `match`.

pub mod game;

use std::time::Duration;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use wapr_actor::scheduling::{self, Reminder, Timer};
use wapr_actor::{Actor, ActorRef, Error, Methods, actors, clock, random, state};

use game::{Match, Status};

/// State key of the match.
const MATCH: &str = "match";
/// The timer that plays the ticks.
const TICK_TIMER: &str = "tick";
/// The reminder that finishes a match its timer did not.
const DEADLINE_REMINDER: &str = "deadline";
/// How long after the last tick's time the deadline falls.
const DEADLINE_GRACE: Duration = Duration::from_secs(30);
/// The actor type scores are reported to.
const LEADERBOARD_TYPE: &str = "leaderboard";

/// Payload of `start`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Start {
    players: Vec<String>,
    tick_ms: u64,
    ticks: u32,
    #[serde(default = "default_leaderboard")]
    leaderboard: String,
}

fn default_leaderboard() -> String {
    "global".to_owned()
}

/// The data of the timer and the reminder: which match they belong to.
#[derive(Debug, Serialize, Deserialize)]
struct Game {
    game: u64,
}

/// Request sent to the leaderboard's `submit`.
#[derive(Debug, Serialize)]
struct Submit<'a> {
    player: &'a str,
    score: i64,
}

/// An entry of the leaderboard's `top`.
#[derive(Debug, Deserialize)]
struct Entry {
    player: String,
}

/// The match actor; the match lives in state.
#[derive(Debug)]
pub struct MatchActor;

impl MatchActor {
    fn start(&mut self, req: Start) -> Result<Match, Error> {
        let previous = load()?;
        if let Some(running) = previous.as_ref().filter(|m| m.is_running()) {
            return Err(Error::application(format!(
                "match {} is running (tick {} of {}); `finish` it first",
                running.game, running.tick, running.ticks
            )));
        }
        let game = previous.map_or(1, |m| m.game + 1);
        let m = Match::new(
            game,
            req.players,
            req.tick_ms,
            req.ticks,
            req.leaderboard,
            clock::now_rfc3339(),
        )
        .map_err(Error::bad_request)?;

        let tick = Duration::from_millis(m.tick_ms);
        scheduling::set_timer(
            TICK_TIMER,
            &Timer::after(tick)
                .every(tick)
                .times(m.ticks)
                .callback("advance")
                .data(&Game { game }),
        )?;
        let deadline = tick.saturating_mul(m.ticks).saturating_add(DEADLINE_GRACE);
        scheduling::set_reminder(
            DEADLINE_REMINDER,
            &Reminder::after(deadline).data(&Game { game }),
        )?;
        state::set(MATCH, &m)?;
        Ok(m)
    }

    fn state(&mut self, _: IgnoredAny) -> Result<Option<Match>, Error> {
        load()
    }

    fn advance(&mut self, tick: Game) -> Result<Option<Match>, Error> {
        let Some(mut m) = load()?.filter(|m| m.is_running() && m.game == tick.game) else {
            // A tick of an earlier or finished match.
            return load();
        };
        if m.play_tick(random::next_u64()) {
            finish(&mut m)?;
        }
        state::set(MATCH, &m)?;
        Ok(Some(m))
    }

    fn finish(&mut self, _: IgnoredAny) -> Result<Match, Error> {
        let mut m = load()?.ok_or_else(|| Error::bad_request("no match has been started"))?;
        if m.is_running() {
            finish(&mut m)?;
            state::set(MATCH, &m)?;
        }
        Ok(m)
    }
}

/// Reports every score to the leaderboard, records the players' ranks on it
/// afterwards, marks the match finished and cancels its timer and reminder.
fn finish(m: &mut Match) -> Result<(), Error> {
    for standing in &m.players {
        let _: IgnoredAny = actors::call(
            LEADERBOARD_TYPE,
            &m.leaderboard,
            "submit",
            &Submit {
                player: &standing.player,
                score: standing.score,
            },
        )?;
    }
    let top: Vec<Entry> = actors::call(LEADERBOARD_TYPE, &m.leaderboard, "top", &())?;
    for standing in &mut m.players {
        standing.rank = top
            .iter()
            .position(|e| e.player == standing.player)
            .map(|i| i + 1);
    }
    m.status = Status::Finished;
    m.finished_at = Some(clock::now_rfc3339());
    scheduling::delete_timer(TICK_TIMER)?;
    scheduling::delete_reminder(DEADLINE_REMINDER)?;
    Ok(())
}

fn load() -> Result<Option<Match>, Error> {
    state::get(MATCH)
}

impl Actor for MatchActor {
    fn activate(_self_ref: ActorRef) -> Result<Self, Error> {
        Ok(MatchActor)
    }

    fn methods() -> Methods<Self> {
        Methods::new()
            .method("start", Self::start)
            .method("state", Self::state)
            .method("finish", Self::finish)
            .method("advance", Self::advance)
    }

    fn on_reminder(&mut self, name: &str, data: &[u8]) -> Result<(), Error> {
        if name != DEADLINE_REMINDER {
            wapr_actor::warn!("ignoring unknown reminder `{name}`");
            return Ok(());
        }
        let Game { game } = wapr_actor::from_json(data)?;
        if let Some(mut m) = load()?.filter(|m| m.is_running() && m.game == game) {
            wapr_actor::info!(
                "match {game} passed its deadline at tick {} of {}",
                m.tick,
                m.ticks
            );
            finish(&mut m)?;
            state::set(MATCH, &m)?;
        }
        Ok(())
    }
}

wapr_actor::export_actor!(MatchActor);

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;

    use leaderboard::board::Board;

    use serde_json::{Value, json};
    use wapr_actor::ErrorKind;
    use wapr_actor::testing::{self, TestActor};

    use super::*;

    type Submissions = Rc<RefCell<Vec<(String, Value)>>>;

    /// Answers the match's calls to `leaderboard` with the leaderboard
    /// example's own rules (one board per id) and records the `submit`
    /// calls as (leaderboard id, payload).
    fn leaderboard() -> Submissions {
        let calls: Submissions = Rc::default();
        let seen = Rc::clone(&calls);
        let mut boards: BTreeMap<String, Board> = BTreeMap::new();
        testing::on_call(move |target, method, payload| {
            assert_eq!(target.actor_type, "leaderboard");
            let board = boards.entry(target.actor_id.clone()).or_default();
            match method {
                "submit" => {
                    let req: Value = serde_json::from_slice(payload).unwrap();
                    let (player, score) = (
                        req["player"].as_str().unwrap(),
                        req["score"].as_i64().unwrap(),
                    );
                    let rank = board.submit(player, score);
                    seen.borrow_mut().push((target.actor_id.clone(), req));
                    Ok(serde_json::to_vec(&json!({"rank": rank})).unwrap())
                }
                "top" => Ok(serde_json::to_vec(board.entries()).unwrap()),
                other => Err(Error::method_not_found(format!("no `{other}`"))),
            }
        });
        calls
    }

    fn actor() -> TestActor<MatchActor> {
        TestActor::activate("match", "m1").unwrap()
    }

    fn start(a: &mut TestActor<MatchActor>, ticks: u32) -> Value {
        a.invoke_json(
            "start",
            &json!({"players": ["ann", "bob", "cy"], "tickMs": 100, "ticks": ticks}),
        )
        .unwrap()
    }

    fn total(m: &Value) -> i64 {
        m["players"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["score"].as_i64().unwrap())
            .sum()
    }

    #[test]
    fn start_registers_the_tick_timer_and_the_deadline() {
        let mut a = actor();
        assert_eq!(
            a.invoke_json::<_, Value>("state", &()).unwrap(),
            Value::Null
        );
        testing::set_unix_nanos(1_714_521_600_000_000_000);
        let m = start(&mut a, 50);
        assert_eq!(m["status"], json!("running"));
        assert_eq!(m["game"], json!(1));
        assert_eq!(m["leaderboard"], json!("global"));
        assert_eq!(m["startedAt"], json!("2024-05-01T00:00:00Z"));
        assert_eq!(
            m["players"][1],
            json!({"player": "bob", "score": 0, "rank": null})
        );

        let timer = &testing::timers()[TICK_TIMER];
        assert_eq!(timer.due_time, "100ms");
        assert_eq!(timer.period, "R50/PT0.1S");
        assert_eq!(timer.callback, "advance");
        assert_eq!(timer.data_json::<Value>().unwrap(), json!({"game": 1}));
        let deadline = &testing::reminders()[DEADLINE_REMINDER];
        assert_eq!(deadline.due_time, "35s", "50 × 100 ms + 30 s");
        assert_eq!(deadline.data_json::<Value>().unwrap(), json!({"game": 1}));

        let err = a
            .invoke_json::<_, Value>(
                "start",
                &json!({"players": ["x"], "tickMs": 100, "ticks": 1}),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Application);
        assert_eq!(
            err.message(),
            "match 1 is running (tick 0 of 50); `finish` it first"
        );
    }

    #[test]
    fn the_timer_plays_the_match_and_the_last_tick_reports_the_scores() {
        let calls = leaderboard();
        let mut a = actor();
        start(&mut a, 4);
        for tick in 1..=3 {
            a.fire_timer(TICK_TIMER).unwrap();
            let m: Value = a.invoke_json("state", &()).unwrap();
            assert_eq!(m["tick"], json!(tick));
            assert_eq!(m["status"], json!("running"));
            assert!((tick..=3 * tick).contains(&total(&m)), "{m}");
        }
        assert!(calls.borrow().is_empty(), "nothing reported before the end");

        a.fire_timer(TICK_TIMER).unwrap();
        let m: Value = a.invoke_json("state", &()).unwrap();
        assert_eq!(m["status"], json!("finished"));
        assert_eq!(m["tick"], json!(4));
        assert!((4..=12).contains(&total(&m)), "{m}");
        let submitted: Vec<(String, Value)> = calls.borrow().clone();
        let expected: Vec<(String, Value)> = ["ann", "bob", "cy"]
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let score = m["players"][i]["score"].clone();
                ("global".to_owned(), json!({"player": p, "score": score}))
            })
            .collect();
        assert_eq!(submitted, expected);
        // Ranks as the leaderboard's `top` shows them after every submission
        // (best first; ties keep the earlier submission first).
        let mut order: Vec<usize> = (0..3).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(m["players"][i]["score"].as_i64().unwrap()));
        for (place, i) in order.into_iter().enumerate() {
            assert_eq!(m["players"][i]["rank"], json!(place + 1), "{m}");
        }
        assert!(testing::timers().is_empty(), "R4/ is done");
        assert!(testing::reminders().is_empty(), "the deadline is cancelled");

        // A new match may start; its ticks carry the new game number.
        let m = start(&mut a, 2);
        assert_eq!(m["game"], json!(2));
        assert_eq!(
            testing::timers()[TICK_TIMER].data_json::<Value>().unwrap(),
            json!({"game": 2})
        );
    }

    #[test]
    fn finish_ends_the_match_early() {
        let calls = leaderboard();
        let mut a = actor();
        let err = a.invoke_json::<_, Value>("finish", &()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);

        a.invoke_json::<_, Value>(
            "start",
            &json!({"players": ["ann"], "tickMs": 1000, "ticks": 10, "leaderboard": "weekly"}),
        )
        .unwrap();
        a.fire_timer(TICK_TIMER).unwrap();
        let m: Value = a.invoke_json("finish", &()).unwrap();
        assert_eq!(m["status"], json!("finished"));
        assert_eq!(m["tick"], json!(1));
        assert_eq!(calls.borrow()[0].0, "weekly");
        assert!(testing::timers().is_empty() && testing::reminders().is_empty());

        // Finishing again changes nothing; so does a late tick.
        let again: Value = a.invoke_json("finish", &()).unwrap();
        assert_eq!(again, m);
        a.fire_timer_with(TICK_TIMER, "advance", br#"{"game":1}"#)
            .unwrap();
        assert_eq!(a.invoke_json::<_, Value>("state", &()).unwrap(), m);
        assert_eq!(calls.borrow().len(), 1);
    }

    #[test]
    fn the_deadline_finishes_a_match_whose_last_tick_failed() {
        let mut a = actor();
        start(&mut a, 2);
        a.fire_timer(TICK_TIMER).unwrap();
        // No leaderboard answers: the last tick's turn fails and is undone.
        let err = a.fire_timer(TICK_TIMER).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let m: Value = a.invoke_json("state", &()).unwrap();
        assert_eq!(
            (m["tick"].clone(), m["status"].clone()),
            (json!(1), json!("running"))
        );
        assert!(testing::timers().is_empty(), "the timer has no fires left");

        // The reminder fails too while the leaderboard is away (and is kept
        // for the retry), then finishes the match.
        a.fire_reminder(DEADLINE_REMINDER).unwrap_err();
        assert!(testing::reminders().contains_key(DEADLINE_REMINDER));
        let calls = leaderboard();
        a.fire_reminder(DEADLINE_REMINDER).unwrap();
        let m: Value = a.invoke_json("state", &()).unwrap();
        assert_eq!(m["status"], json!("finished"));
        assert_eq!(m["tick"], json!(1));
        assert_eq!(calls.borrow().len(), 3);
        assert!(testing::reminders().is_empty());
    }

    #[test]
    fn stale_ticks_and_deadlines_change_nothing() {
        let calls = leaderboard();
        let mut a = actor();
        start(&mut a, 5);
        let before: Value = a.invoke_json("state", &()).unwrap();
        a.fire_timer_with(TICK_TIMER, "advance", br#"{"game":7}"#)
            .unwrap();
        a.fire_reminder_with(DEADLINE_REMINDER, br#"{"game":7}"#)
            .unwrap();
        a.fire_reminder_with("unknown", b"").unwrap();
        assert_eq!(a.invoke_json::<_, Value>("state", &()).unwrap(), before);
        assert!(calls.borrow().is_empty());
    }

    #[test]
    fn invalid_starts_are_bad_requests_and_register_nothing() {
        let mut a = actor();
        for payload in [
            json!({"players": [], "tickMs": 100, "ticks": 5}),
            json!({"players": ["a", "a"], "tickMs": 100, "ticks": 5}),
            json!({"players": ["a"], "tickMs": 1, "ticks": 5}),
            json!({"players": ["a"], "tickMs": 100, "ticks": 0}),
            json!({"players": ["a"], "tickMs": 100}),
            json!({"players": ["a"], "tickMs": 100, "ticks": 5, "extra": 1}),
        ] {
            let err = a.invoke_json::<_, Value>("start", &payload).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{payload}: {err}");
        }
        assert!(testing::state_keys().is_empty());
        assert!(testing::timers().is_empty() && testing::reminders().is_empty());
    }
}
