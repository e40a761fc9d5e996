//! The rules of a match, free of any host calls.

use serde::{Deserialize, Serialize};

/// Most players in one match.
pub const MAX_PLAYERS: usize = 16;
/// Shortest tick, in milliseconds.
pub const MIN_TICK_MS: u64 = 10;
/// Longest tick, in milliseconds (one minute).
pub const MAX_TICK_MS: u64 = 60_000;
/// Most ticks in one match.
pub const MAX_TICKS: u32 = 10_000;

/// Whether a match is being played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ticks are still to come.
    Running,
    /// Over; the scores were reported.
    Finished,
}

/// One player's standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The player's name (also their name on the leaderboard).
    pub player: String,
    /// Points so far.
    pub score: i64,
    /// The player's rank on the leaderboard once the match finished (`None`
    /// before, or when outside the leaderboard's top).
    pub rank: Option<usize>,
}

/// A match: its players, their scores and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Match {
    /// Counts the matches this actor started; ticks carry it so a tick of an
    /// earlier match is recognised.
    pub game: u64,
    /// Running or finished.
    pub status: Status,
    /// The players in the order given to `start`.
    pub players: Vec<Standing>,
    /// Ticks played.
    pub tick: u32,
    /// Ticks in the match.
    pub ticks: u32,
    /// Time between ticks, in milliseconds.
    pub tick_ms: u64,
    /// The id of the `leaderboard` actor the scores go to.
    pub leaderboard: String,
    /// When it started (RFC 3339, host clock).
    pub started_at: String,
    /// When it finished.
    pub finished_at: Option<String>,
}

impl Match {
    /// A new running match, or why the settings are invalid.
    ///
    /// # Errors
    /// A message naming the field.
    pub fn new(
        game: u64,
        players: Vec<String>,
        tick_ms: u64,
        ticks: u32,
        leaderboard: String,
        started_at: String,
    ) -> Result<Self, String> {
        if players.is_empty() || players.len() > MAX_PLAYERS {
            return Err(format!("`players` must name 1 to {MAX_PLAYERS} players"));
        }
        for (i, player) in players.iter().enumerate() {
            if player.is_empty() {
                return Err("`players` must not contain an empty name".into());
            }
            if players[..i].contains(player) {
                return Err(format!("`players` names {player:?} twice"));
            }
        }
        if !(MIN_TICK_MS..=MAX_TICK_MS).contains(&tick_ms) {
            return Err(format!(
                "`tickMs` must be between {MIN_TICK_MS} and {MAX_TICK_MS}"
            ));
        }
        if !(1..=MAX_TICKS).contains(&ticks) {
            return Err(format!("`ticks` must be between 1 and {MAX_TICKS}"));
        }
        if leaderboard.is_empty() {
            return Err("`leaderboard` must not be empty".into());
        }
        Ok(Self {
            game,
            status: Status::Running,
            players: players
                .into_iter()
                .map(|player| Standing {
                    player,
                    score: 0,
                    rank: None,
                })
                .collect(),
            tick: 0,
            ticks,
            tick_ms,
            leaderboard,
            started_at,
            finished_at: None,
        })
    }

    /// Plays one tick with the random number `roll`: one player (chosen by
    /// the low bits) scores 1 to 3 points (chosen by the high bits). Returns
    /// whether that was the last tick.
    pub fn play_tick(&mut self, roll: u64) -> bool {
        let n = self.players.len() as u64;
        if n > 0 && self.tick < self.ticks {
            // Below `n`, which came from a `usize`.
            let scorer = usize::try_from((roll & 0xFFFF_FFFF) % n).unwrap_or(0);
            let points = 1 + i64::try_from((roll >> 32) % 3).unwrap_or(0);
            self.players[scorer].score += points;
            self.tick += 1;
        }
        self.tick >= self.ticks
    }

    /// Whether ticks are still to come.
    pub fn is_running(&self) -> bool {
        self.status == Status::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(players: &[&str], tick_ms: u64, ticks: u32) -> Result<Match, String> {
        Match::new(
            1,
            players.iter().map(|p| (*p).to_owned()).collect(),
            tick_ms,
            ticks,
            "global".into(),
            "2024-05-01T00:00:00Z".into(),
        )
    }

    #[test]
    fn settings_are_checked() {
        assert!(new(&["ann", "bob"], 100, 50).is_ok());
        assert_eq!(
            new(&[], 100, 5).unwrap_err(),
            "`players` must name 1 to 16 players"
        );
        assert_eq!(
            new(&["ann", "ann"], 100, 5).unwrap_err(),
            "`players` names \"ann\" twice"
        );
        assert!(new(&["ann", ""], 100, 5).is_err());
        assert!(new(&["ann"], 9, 5).is_err());
        assert!(new(&["ann"], 60_001, 5).is_err());
        assert!(new(&["ann"], 100, 0).is_err());
        assert!(new(&["ann"], 100, MAX_TICKS + 1).is_err());
    }

    #[test]
    fn a_tick_scores_one_player_one_to_three_points() {
        let mut m = new(&["ann", "bob", "cy"], 100, 3).unwrap();
        // Low bits pick the player (2 → cy), high bits the points (5 % 3 + 1).
        assert!(!m.play_tick((5 << 32) | 2));
        assert_eq!(m.players[2].score, 3);
        assert!(!m.play_tick(0));
        assert_eq!(m.players[0].score, 1);
        assert!(m.play_tick(u64::MAX), "the third tick is the last");
        assert_eq!(m.tick, 3);
        let total: i64 = m.players.iter().map(|p| p.score).sum();
        assert!((5..=7).contains(&total), "{total}");
        // Past the end nothing changes.
        assert!(m.play_tick(1));
        assert_eq!(m.tick, 3);
        assert_eq!(m.players.iter().map(|p| p.score).sum::<i64>(), total);
    }
}
