//! The documented bounds on what a scene may ask for, so that every input is refused or run in
//! bounded time and memory. Each limit comes with the reason it is where it is.

/// Largest scene file read, bytes. The largest bundled pilot scene is 30 kB.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Largest |x| or |y| of any point, m. A unit lies within a few km of its origin; the GIS importer
/// refuses points more than 50 km away for the same reason (its local projection's error).
pub const MAX_COORDINATE: f64 = 50_000.0;

/// Largest |elevation| of a level, m.
pub const MAX_ELEVATION: f64 = 10_000.0;

/// Most corners in one ring (outline, hole, wall polyline, centre line).
pub const MAX_RING_POINTS: usize = 100_000;

/// Most corners in the whole scene.
pub const MAX_TOTAL_POINTS: usize = 2_000_000;

/// Most objects of one kind (levels, doors, zones, stairs, …). Runtime ids are 16-bit; each stair
/// adds four openings to the doors, and one corridor level to the levels.
pub const MAX_OBJECTS: usize = 16_000;

/// Longest id, characters.
pub const MAX_ID_CHARS: usize = 128;

/// Shortest simulation step, s. Below it a run of any length takes billions of steps.
pub const MIN_STEP: f64 = 0.001;
/// Longest simulation step, s: one step's walk must stay well under a body's size.
pub const MAX_STEP: f64 = 0.25;

/// Longest simulated duration, s (about 116 days).
pub const MAX_DURATION: f64 = 1.0e7;

/// Most navigation grid cells over all levels. Each cell costs about 12 bytes in the grid and
/// 16 bytes in every floor field; see [`MAX_NAV_BYTES`].
pub const MAX_NAV_CELLS: u64 = 40_000_000;

/// Largest estimated memory for the navigation grids and floor fields, bytes.
pub const MAX_NAV_BYTES: u64 = 6 << 30;

/// Most agents a scene may place or let arrive in total.
pub const MAX_AGENTS: u64 = 10_000_000;

/// Highest arrival rate of one flow, persons per hour (310,000 per hour entered the Bund on
/// 2014-12-31, through many entrances).
pub const MAX_ARRIVAL_RATE: f64 = 1.0e6;

/// A street's speed limit, km/h: walking pace up to urban expressways.
pub const STREET_SPEED_LIMIT: (f64, f64) = (5.0, 150.0);
/// A street's carriageway, m: one narrow lane up to the widest avenues.
pub const STREET_CARRIAGEWAY: (f64, f64) = (0.5, 100.0);
/// Lanes of a street, both directions.
pub const STREET_LANES: (u32, u32) = (1, 16);
