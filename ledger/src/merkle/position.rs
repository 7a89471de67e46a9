//! Positions in the tree: leaf indexes, tree sizes and perfect subtrees ([`NodeId`]), and
//! the [`NodeSource`] trait through which the algorithms read stored node hashes.
//!
//! RFC 6962 §2.1 defines the tree by recursion on the largest power of two smaller than
//! the size. Every node that recursion produces is either a perfect subtree (2^level
//! leaves, aligned on a multiple of 2^level) or the root of an incomplete right-hand part
//! that is folded from perfect subtrees. Only perfect subtrees ever change from "absent"
//! to "final" as the log grows, so they are what a store persists and what this module
//! names. This module is deliberately not about hashing or proofs; it only does the index
//! arithmetic, and it never panics or overflows on any `u64` input.

use std::fmt;
use std::ops::Range;

use super::hasher::Hash;

/// The position of a leaf in the log: entry `seq` is leaf `LeafIndex(seq)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LeafIndex(pub u64);

impl LeafIndex {
    /// The index as a number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for LeafIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The number of leaves in a tree. A tree of size `n` holds leaves `0..n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TreeSize(pub u64);

impl TreeSize {
    /// The size of the empty tree.
    pub const EMPTY: TreeSize = TreeSize(0);

    /// The size as a number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Whether the tree of this size holds `leaf`.
    pub const fn contains(self, leaf: LeafIndex) -> bool {
        leaf.0 < self.0
    }

    /// The perfect subtrees that make up the tree of this size, from left to right (and so
    /// from the highest level to the lowest): one for each bit set in the size.
    ///
    /// Their roots are all a store needs to compute the root, to append and to reopen.
    pub fn perfect_subtrees(self) -> PerfectSubtrees {
        PerfectSubtrees::covering(0, self.0)
    }
}

impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A perfect subtree: `level` is its height (0 = a leaf) and `index` its position among
/// the subtrees of that height, so it covers leaves `[index << level, (index + 1) << level)`.
///
/// Levels run from 0 to 63 in any tree whose size fits in a `u64`. Higher levels can be
/// named (so that [`NodeId::parent`] is total) but are never complete within any such tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// The height of the subtree above its leaves; 0 for a leaf.
    pub level: u8,
    /// The position of the subtree among the subtrees of the same height, from the left.
    pub index: u64,
}

impl NodeId {
    /// The highest level a perfect subtree can have in a tree of at most `u64::MAX` leaves.
    pub const MAX_LEVEL: u8 = 63;

    /// The node of a single leaf.
    pub const fn leaf(leaf: LeafIndex) -> NodeId {
        NodeId {
            level: 0,
            index: leaf.0,
        }
    }

    /// The subtree one level up that contains this one.
    pub const fn parent(self) -> NodeId {
        NodeId {
            level: self.level.saturating_add(1),
            index: self.index >> 1,
        }
    }

    /// The other child of this node's parent.
    pub const fn sibling(self) -> NodeId {
        NodeId {
            level: self.level,
            index: self.index ^ 1,
        }
    }

    /// The two halves of this subtree, or `None` for a leaf.
    pub fn children(self) -> Option<(NodeId, NodeId)> {
        let level = self.level.checked_sub(1)?;
        let left = self.index.checked_mul(2)?;
        Some((
            NodeId { level, index: left },
            NodeId {
                level,
                index: left | 1,
            },
        ))
    }

    /// The index of the first leaf under this subtree, or `None` if it lies beyond
    /// `u64::MAX`.
    pub fn first_leaf(self) -> Option<u64> {
        let first = u128::from(self.index).checked_shl(u32::from(self.level))?;
        u64::try_from(first).ok()
    }

    /// The leaves this subtree covers, or `None` if the range does not fit in `u64` (such
    /// a subtree is never complete within any tree).
    pub fn leaf_range(self) -> Option<Range<u64>> {
        let end = self.end_u128()?;
        let first = self.first_leaf()?;
        Some(first..u64::try_from(end).ok()?)
    }

    /// Whether every leaf of this subtree is inside the tree of `size` leaves, so that its
    /// hash is final and may be stored and asked for.
    pub fn is_complete_within(self, size: TreeSize) -> bool {
        match self.end_u128() {
            Some(end) => end <= u128::from(size.0),
            None => false,
        }
    }

    /// One past the last leaf covered, computed without overflow: `(index + 1) << level`.
    fn end_u128(self) -> Option<u128> {
        if self.level > Self::MAX_LEVEL {
            return None;
        }
        // INVARIANT: index + 1 <= 2^64 and level <= 63, so the result is below 2^127.
        let end = u128::from(self.index) + 1;
        end.checked_shl(u32::from(self.level))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node(level {}, index {})", self.level, self.index)
    }
}

/// A source of the hashes of perfect subtrees: the store, a memory tree, a cache.
///
/// The algorithms of this module only ever ask for a node that is complete within the
/// tree size their caller gave them (see [`NodeId::is_complete_within`]). A source may
/// keep only some levels and compute the others from their children.
pub trait NodeSource {
    /// Why a node could not be read.
    type Error;

    /// The hash of the perfect subtree `id`.
    fn node(&self, id: NodeId) -> Result<Hash, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn node(&self, id: NodeId) -> Result<Hash, Self::Error> {
        (**self).node(id)
    }
}

/// The number of bits needed to write `value`: 0 for 0, 64 for `u64::MAX`.
pub(crate) fn bit_length(value: u64) -> u32 {
    u64::BITS.saturating_sub(value.leading_zeros())
}

/// The perfect subtrees that exactly cover a range of leaves `[begin, end)` whose start is
/// aligned on a power of two larger than its length, from left to right.
///
/// Two kinds of range have that shape: a whole tree `[0, size)` and the right-hand,
/// incomplete part `[sibling_start, size)` of an RFC 6962 path. For them the cover is the
/// binary expansion of the length, highest bit first.
#[derive(Debug, Clone)]
pub struct PerfectSubtrees {
    /// The first leaf not yet covered.
    next: u64,
    /// How many leaves remain to be covered.
    remaining: u64,
}

impl PerfectSubtrees {
    /// The cover of `[begin, end)`.
    ///
    /// INVARIANT (caller): `begin` is a multiple of a power of two larger than
    /// `end - begin`; otherwise the returned nodes are not aligned subtrees.
    pub(crate) fn covering(begin: u64, end: u64) -> PerfectSubtrees {
        PerfectSubtrees {
            next: begin,
            remaining: end.saturating_sub(begin),
        }
    }
}

impl Iterator for PerfectSubtrees {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.remaining == 0 {
            return None;
        }
        // The highest set bit of the remaining length is the next subtree's level.
        let level = bit_length(self.remaining).saturating_sub(1);
        let width = 1_u64 << level;
        let id = NodeId {
            // INVARIANT: level <= 63, so the narrowing cannot fail.
            level: u8::try_from(level).unwrap_or(NodeId::MAX_LEVEL),
            index: self.next >> level,
        };
        // INVARIANT: next + remaining <= u64::MAX and width <= remaining, so neither
        // operation overflows.
        self.next = self.next.saturating_add(width);
        self.remaining = self.remaining.saturating_sub(width);
        Some(id)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let count = usize::try_from(self.remaining.count_ones()).unwrap_or(usize::MAX);
        (count, Some(count))
    }
}

impl ExactSizeIterator for PerfectSubtrees {}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)] // Tests may panic.
mod tests {
    use super::*;

    #[test]
    fn node_relatives_and_leaf_ranges() {
        let node = NodeId { level: 2, index: 3 };
        assert_eq!(node.leaf_range(), Some(12..16));
        assert_eq!(node.first_leaf(), Some(12));
        assert_eq!(node.parent(), NodeId { level: 3, index: 1 });
        assert_eq!(node.sibling(), NodeId { level: 2, index: 2 });
        assert_eq!(
            node.children(),
            Some((NodeId { level: 1, index: 6 }, NodeId { level: 1, index: 7 }))
        );
        assert_eq!(NodeId::leaf(LeafIndex(9)).children(), None);
        assert_eq!(NodeId::leaf(LeafIndex(9)).leaf_range(), Some(9..10));
        let top = NodeId {
            level: u8::MAX,
            index: 0,
        };
        assert_eq!(top.parent().level, u8::MAX);
    }

    #[test]
    fn completeness_at_the_edges_of_u64() {
        let node = NodeId { level: 2, index: 3 };
        assert!(node.is_complete_within(TreeSize(16)));
        assert!(!node.is_complete_within(TreeSize(15)));
        let left_half = NodeId {
            level: 63,
            index: 0,
        };
        assert!(left_half.is_complete_within(TreeSize(u64::MAX)));
        assert_eq!(left_half.leaf_range(), Some(0..1 << 63));
        let right_half = NodeId {
            level: 63,
            index: 1,
        };
        assert!(!right_half.is_complete_within(TreeSize(u64::MAX)));
        assert_eq!(right_half.leaf_range(), None);
        assert_eq!(right_half.first_leaf(), Some(1 << 63));
        let last_leaf = NodeId::leaf(LeafIndex(u64::MAX));
        assert!(!last_leaf.is_complete_within(TreeSize(u64::MAX)));
        assert_eq!(last_leaf.leaf_range(), None);
        let too_high = NodeId {
            level: 64,
            index: 0,
        };
        assert!(!too_high.is_complete_within(TreeSize(u64::MAX)));
        assert_eq!(too_high.first_leaf(), Some(0));
        assert_eq!(
            NodeId {
                level: 64,
                index: 1
            }
            .first_leaf(),
            None
        );
        assert_eq!(too_high.leaf_range(), None);
    }

    #[test]
    fn a_tree_is_the_binary_expansion_of_its_size() {
        let ids: Vec<NodeId> = TreeSize(13).perfect_subtrees().collect();
        assert_eq!(
            ids,
            [
                NodeId { level: 3, index: 0 },
                NodeId { level: 2, index: 2 },
                NodeId {
                    level: 0,
                    index: 12
                },
            ]
        );
        assert_eq!(TreeSize(0).perfect_subtrees().count(), 0);
        let largest = TreeSize(u64::MAX).perfect_subtrees();
        assert_eq!(largest.len(), 64);
        let ids: Vec<NodeId> = largest.collect();
        assert_eq!(
            ids[0],
            NodeId {
                level: 63,
                index: 0
            }
        );
        assert_eq!(ids[63], NodeId::leaf(LeafIndex(u64::MAX - 1)));
        assert!(ids
            .iter()
            .all(|id| id.is_complete_within(TreeSize(u64::MAX))));
        // The right-hand part of a path: [6, 7) under the sibling covering [6, 8).
        let part: Vec<NodeId> = PerfectSubtrees::covering(6, 7).collect();
        assert_eq!(part, [NodeId::leaf(LeafIndex(6))]);
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(0), 0);
        assert_eq!(bit_length(1), 1);
        assert_eq!(bit_length(7), 3);
        assert_eq!(bit_length(8), 4);
        assert_eq!(bit_length(u64::MAX), 64);
    }
}
