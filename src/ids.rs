//! Typed identities of the twin's runtime objects, and vectors indexed by them.
//! Each is a dense index assigned when the twin is built; scene files name objects by string ids instead.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

use bevy::prelude::Component;
use serde::{Deserialize, Serialize};

/// An index type: a dense position in an [`IdVec`].
pub trait Id: Copy + Eq + Ord + fmt::Debug {
    /// The largest index the type can hold.
    const MAX: usize;
    fn from_index(index: usize) -> Self;
    fn index(self) -> usize;
}

macro_rules! index_id {
    ($(#[$doc:meta])* $name:ident($repr:ty), $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub $repr);

        impl Id for $name {
            const MAX: usize = <$repr>::MAX as usize;
            /// Panics when `index` exceeds the type's range; the twin builder refuses scenes
            /// with more objects than that (see `scene::limits`), so it never happens at runtime.
            #[inline]
            fn from_index(index: usize) -> Self {
                $name(<$repr>::try_from(index).expect(concat!(stringify!($name), " out of range")))
            }
            #[inline]
            fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl $name {
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

index_id!(
    /// A level: a floor of the scene, or a stair's own corridor (which follow the floors).
    LevelId(u16), "level#"
);
index_id!(
    /// An opening: a scene door, or one of the four openings of a stair.
    DoorId(u16), "door#"
);
index_id!(
    /// A floor-field target (an exit set or a destination).
    TargetId(u32), "target#"
);
index_id!(
    /// One side of a stair opening.
    PortalId(u16), "portal#"
);
index_id!(
    /// A population of the scene.
    PopulationId(u16), "population#"
);
index_id!(
    /// A stair between two levels.
    StairId(u16), "stair#"
);
index_id!(
    /// A named zone that commands can block.
    ZoneId(u16), "zone#"
);
index_id!(
    /// A hold line where arriving people can be held and released in waves.
    HoldLineId(u16), "hold_line#"
);
index_id!(
    /// A hazard that spreads from a point (a gas leak) once a command starts it.
    HazardId(u16), "hazard#"
);
index_id!(
    /// A barrier (a line or a closed outline) that commands place and remove.
    BarrierId(u16), "barrier#"
);
index_id!(
    /// A measurement area (density, capacity and warning levels).
    AreaId(u16), "area#"
);
index_id!(
    /// A destination area.
    DestinationId(u16), "destination#"
);
index_id!(
    /// A street.
    StreetId(u16), "street#"
);
index_id!(
    /// A lane of a street.
    LaneId(u32), "lane#"
);
index_id!(
    /// A pedestrian crossing over a street.
    CrossingId(u16), "crossing#"
);
index_id!(
    /// A traffic signal (issued with vehicle traffic).
    SignalId(u16), "signal#"
);
index_id!(
    /// A building.
    BuildingId(u32), "building#"
);
index_id!(
    /// A measurement line or area.
    MeasurementId(u16), "measurement#"
);

/// Stable agent identity: assigned in spawn order, used for every ordering and in outputs.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AgentId(pub u32);

/// A vector indexed by a typed id.
#[derive(Clone, PartialEq)]
pub struct IdVec<I, T> {
    items: Vec<T>,
    _id: PhantomData<fn(I) -> I>,
}

impl<I: Id, T> IdVec<I, T> {
    pub fn new() -> Self {
        IdVec { items: Vec::new(), _id: PhantomData }
    }
    pub fn with_capacity(n: usize) -> Self {
        IdVec { items: Vec::with_capacity(n), _id: PhantomData }
    }
    /// Appends and returns the new item's id.
    pub fn push(&mut self, item: T) -> I {
        let id = I::from_index(self.items.len());
        self.items.push(item);
        id
    }
    /// The id the next pushed item will get.
    pub fn next_id(&self) -> I {
        I::from_index(self.items.len())
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn get(&self, id: I) -> Option<&T> {
        self.items.get(id.index())
    }
    pub fn get_mut(&mut self, id: I) -> Option<&mut T> {
        self.items.get_mut(id.index())
    }
    pub fn contains(&self, id: I) -> bool {
        id.index() < self.items.len()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }
    /// Items with their ids, in id order.
    pub fn enumerate(&self) -> impl DoubleEndedIterator<Item = (I, &T)> + ExactSizeIterator {
        self.items.iter().enumerate().map(|(i, t)| (I::from_index(i), t))
    }
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = I> + ExactSizeIterator + use<I, T> {
        (0..self.items.len()).map(I::from_index)
    }
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }
}

impl<I: Id, T> Default for IdVec<I, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: Id, T> From<Vec<T>> for IdVec<I, T> {
    fn from(items: Vec<T>) -> Self {
        assert!(items.len() <= I::MAX + 1, "too many items for the id type");
        IdVec { items, _id: PhantomData }
    }
}

impl<I: Id, T> FromIterator<T> for IdVec<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        Self::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<I: Id, T> Index<I> for IdVec<I, T> {
    type Output = T;
    #[inline]
    fn index(&self, id: I) -> &T {
        &self.items[id.index()]
    }
}

impl<I: Id, T> IndexMut<I> for IdVec<I, T> {
    #[inline]
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.items[id.index()]
    }
}

impl<'a, I: Id, T> IntoIterator for &'a IdVec<I, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<I, T: fmt::Debug> fmt::Debug for IdVec<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.items.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_index_their_own_vector() {
        let mut doors: IdVec<DoorId, &str> = IdVec::new();
        let a = doors.push("a");
        let b = doors.push("b");
        assert_eq!((a, b), (DoorId(0), DoorId(1)));
        assert_eq!(doors[b], "b");
        assert_eq!(doors.enumerate().map(|(id, _)| id).collect::<Vec<_>>(), vec![a, b]);
        assert!(!doors.contains(DoorId(2)));
        assert_eq!(format!("{b}"), "door#1");
    }
}
