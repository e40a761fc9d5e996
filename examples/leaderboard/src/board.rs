//! The ranking rules, free of any host calls.

use serde::{Deserialize, Serialize};

/// How many entries the board keeps.
pub const CAPACITY: usize = 10;

/// One player's best score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Player name.
    pub player: String,
    /// The player's best submitted score.
    pub score: i64,
}

/// The top [`CAPACITY`] best scores, one entry per player, best first.
///
/// Ties are broken by time: among equal scores, the player who reached the
/// score first ranks higher. The order of the stored list encodes this, so no
/// timestamps are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Board {
    entries: Vec<Entry>,
}

impl Board {
    /// Records `score` for `player` if it beats the player's best, and
    /// returns the player's 1-based rank, or `None` when the player is not
    /// in the top [`CAPACITY`].
    ///
    /// A player who dropped out of the board has no remembered best: a new
    /// submission is judged on its own.
    pub fn submit(&mut self, player: &str, score: i64) -> Option<usize> {
        if let Some(i) = self.position(player) {
            if self.entries[i].score >= score {
                return Some(i + 1);
            }
            self.entries.remove(i);
        }
        // After every entry with a score >= ours: equal scores keep their
        // earlier place.
        let at = self.entries.partition_point(|e| e.score >= score);
        if at >= CAPACITY {
            return None;
        }
        self.entries.insert(
            at,
            Entry {
                player: player.to_owned(),
                score,
            },
        );
        self.entries.truncate(CAPACITY);
        Some(at + 1)
    }

    /// The 1-based rank of `player`, if on the board.
    pub fn rank(&self, player: &str) -> Option<usize> {
        self.position(player).map(|i| i + 1)
    }

    /// The entries, best first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn position(&self, player: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.player == player)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(board: &Board) -> Vec<(&str, i64)> {
        board
            .entries()
            .iter()
            .map(|e| (e.player.as_str(), e.score))
            .collect()
    }

    #[test]
    fn sorts_descending_and_ranks_from_one() {
        let mut b = Board::default();
        assert_eq!(b.submit("a", 10), Some(1));
        assert_eq!(b.submit("b", 30), Some(1));
        assert_eq!(b.submit("c", 20), Some(2));
        assert_eq!(order(&b), [("b", 30), ("c", 20), ("a", 10)]);
        assert_eq!(b.rank("a"), Some(3));
    }

    #[test]
    fn keeps_the_best_score_per_player() {
        let mut b = Board::default();
        b.submit("a", 50);
        b.submit("b", 40);
        assert_eq!(
            b.submit("a", 10),
            Some(1),
            "a lower score keeps the old best"
        );
        assert_eq!(
            b.submit("b", 60),
            Some(1),
            "a higher score moves the player up"
        );
        assert_eq!(order(&b), [("b", 60), ("a", 50)]);
    }

    #[test]
    fn ties_rank_the_earlier_submission_first() {
        let mut b = Board::default();
        b.submit("first", 10);
        assert_eq!(b.submit("second", 10), Some(2));
        b.submit("third", 5);
        assert_eq!(
            b.submit("third", 10),
            Some(3),
            "reaching a tied score later ranks lower"
        );
        assert_eq!(order(&b), [("first", 10), ("second", 10), ("third", 10)]);
    }

    #[test]
    fn keeps_only_the_top_ten() {
        let mut b = Board::default();
        for i in 0..CAPACITY {
            let score = i64::try_from(i).unwrap() * 10 + 10;
            assert!(b.submit(&format!("p{i}"), score).is_some());
        }
        assert_eq!(b.entries().len(), CAPACITY);
        assert_eq!(
            b.submit("low", 10),
            None,
            "a tie with the 10th place does not enter"
        );
        assert_eq!(b.submit("low", 5), None);
        assert_eq!(b.submit("mid", 55), Some(6));
        assert_eq!(b.entries().len(), CAPACITY);
        assert_eq!(b.rank("p0"), None, "the old 10th place fell off");
        assert_eq!(b.entries().last().map(|e| e.score), Some(20));
    }

    #[test]
    fn serializes_as_a_plain_array() {
        let mut b = Board::default();
        b.submit("a", 1);
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json, serde_json::json!([{ "player": "a", "score": 1 }]));
        let back: Board = serde_json::from_value(json).unwrap();
        assert_eq!(back, b);
    }
}
