//! Peer scores: each fault a peer commits lowers its score; past the ban threshold it is
//! disconnected and refused for a while. Scores recover slowly toward zero, so an honest
//! peer with an occasional timeout is never banned. (Lighthouse's peer manager is the
//! model: graded penalties, a threshold, a temporary ban, decay.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::PeerId;

/// What a peer did wrong, and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Bytes that are not a message, or a message over its size cap.
    Malformed,
    /// An entry or checkpoint that fails verification, or a batch that does not match its
    /// checkpoint.
    InvalidData,
    /// A response that is not the one asked for (other log, other start, too many).
    WrongAnswer,
    /// A gossip message that does not verify.
    InvalidGossip,
    /// A request that timed out or a stream that failed.
    Timeout,
}

impl Fault {
    /// The score it costs.
    pub fn penalty(self) -> f64 {
        match self {
            Fault::Malformed | Fault::InvalidData | Fault::WrongAnswer => 60.0,
            Fault::InvalidGossip => 40.0,
            Fault::Timeout => 5.0,
        }
    }
}

/// Scoring settings, all explicit.
#[derive(Debug, Clone, Copy)]
pub struct ScoreConfig {
    /// A peer at or below this score is banned.
    pub ban_threshold: f64,
    /// How long a ban lasts.
    pub ban_duration: Duration,
    /// Points recovered per second, toward zero.
    pub recovery_per_second: f64,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            ban_threshold: -100.0,
            ban_duration: Duration::from_secs(600),
            recovery_per_second: 0.5,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f64,
    updated: Instant,
}

/// Every peer's score, and the bans in force.
#[derive(Debug, Default)]
pub struct Scores {
    config: ScoreConfig,
    peers: HashMap<PeerId, Entry>,
    banned: HashMap<PeerId, Instant>,
    faults: u64,
}

impl Scores {
    pub fn new(config: ScoreConfig) -> Scores {
        Scores {
            config,
            ..Scores::default()
        }
    }

    fn current(&mut self, peer: PeerId, now: Instant) -> &mut Entry {
        let recovery = self.config.recovery_per_second;
        let entry = self.peers.entry(peer).or_insert(Entry {
            score: 0.0,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(entry.updated).as_secs_f64();
        entry.score = (entry.score + elapsed * recovery).min(0.0);
        entry.updated = now;
        entry
    }

    /// Records a fault. Returns true if the peer is now to be banned (it was not before).
    pub fn penalise(&mut self, peer: PeerId, fault: Fault, now: Instant) -> bool {
        self.faults += 1;
        let threshold = self.config.ban_threshold;
        let entry = self.current(peer, now);
        entry.score -= fault.penalty();
        if entry.score <= threshold && !self.banned.contains_key(&peer) {
            self.banned.insert(peer, now + self.config.ban_duration);
            return true;
        }
        false
    }

    /// The peer's score now.
    pub fn score(&mut self, peer: PeerId, now: Instant) -> f64 {
        self.current(peer, now).score
    }

    /// Whether the peer is banned now.
    pub fn is_banned(&self, peer: &PeerId) -> bool {
        self.banned.contains_key(peer)
    }

    /// Bans that have run out: the peers are forgiven (score reset) and returned.
    pub fn expire(&mut self, now: Instant) -> Vec<PeerId> {
        let expired: Vec<PeerId> = self
            .banned
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in &expired {
            self.banned.remove(peer);
            self.peers.remove(peer);
        }
        expired
    }

    /// The banned peers.
    pub fn banned(&self) -> Vec<PeerId> {
        self.banned.keys().copied().collect()
    }

    /// How many faults were recorded in all.
    pub fn fault_count(&self) -> u64 {
        self.faults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_invalid_batches_ban_but_timeouts_recover() {
        let mut s = Scores::new(ScoreConfig::default());
        let now = Instant::now();
        let bad = PeerId::random();
        assert!(!s.penalise(bad, Fault::InvalidData, now));
        assert!(s.penalise(bad, Fault::InvalidData, now));
        assert!(s.is_banned(&bad));
        assert!(!s.penalise(bad, Fault::InvalidData, now), "banned once");
        let slow = PeerId::random();
        for i in 0..100 {
            // One timeout every 20 s never adds up to a ban.
            assert!(!s.penalise(slow, Fault::Timeout, now + Duration::from_secs(20 * i)));
        }
        assert!(!s.is_banned(&slow));
        let later = now + Duration::from_secs(601);
        assert_eq!(s.expire(later), vec![bad]);
        assert!(!s.is_banned(&bad));
        assert_eq!(s.score(bad, later), 0.0);
    }
}
