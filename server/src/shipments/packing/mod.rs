//! Packing: splits an order's items into packages of a store's box sizes. Pure rules, no I/O.
//!
//! # Algorithm: first-fit decreasing
//!
//! 1. Items (one [`Item`] per unit of an order line) are sorted by volume descending, then
//!    weight descending, then `line_no` ascending, then sorted dimensions descending. The last
//!    key only orders units of one line that differ in shape, so the order is total and the
//!    result does not depend on the order the items are given in.
//! 2. Boxes are sorted by volume ascending, then name; "the smallest box" is the first box in
//!    this order.
//! 3. Each item in turn goes into the first open package (in the order they were opened) it
//!    fits in. If it fits in none, a new package is opened with the smallest box the item fits
//!    in alone. If no box can hold it, packing fails with [`PackingError::ItemTooLarge`] naming
//!    that item's line (the first such item in the sorted order, i.e. the largest).
//! 4. After packing, each package moves to the smallest box that still holds all its items by
//!    the same rules. Packages keep the order they were opened in.
//!
//! An item **fits** a box (with whatever is already in it) when all of these hold:
//!
//! - **dimensions**: the item's dimensions, sorted, are each ≤ the box's dimensions, sorted,
//!   so an item may be turned any way (rotation allowed);
//! - **volume**: the volume already used plus the item's volume is ≤ the box's volume. This is
//!   an approximation: there is no 3-D placement, so a package may be declared to hold items
//!   that no real arrangement fits (e.g. two 6×6×6 cubes "fit" a 12×6×3 box). Stores should
//!   leave slack in the box sizes they configure;
//! - **weight**: the box's tare plus the items' weights, this one included, is ≤ the box's
//!   `max_weight_grams`. Items may weigh nothing.
//!
//! Step 4 is a guard rather than an optimisation under this opening rule: a package's box is
//! already the smallest that holds its first item alone, and any box holding all of its items
//! holds that one, so no smaller box can qualify. It keeps "every package is in the smallest
//! box that holds it" true by construction should the opening rule change (e.g. to opening the
//! largest box to pack more per package).
//!
//! # Inputs and limits
//!
//! Dimensions must be 1 to [`MAX_DIMENSION_MM`] mm and weights 0 to [`MAX_WEIGHT_GRAMS`] g
//! (a box's `max_weight_grams` at least 1 g, its tare at most its max weight; box names are
//! non-blank and unique because a [`Package`] names its box). Anything else is
//! [`PackingError::InvalidItem`] or [`PackingError::InvalidBox`] rather than a wrapped or
//! panicking `i64`; within the limits every volume and sum fits an `i64` with room to spare,
//! and the arithmetic is checked anyway.
//!
//! No items means no packages, whatever the boxes (if valid); items but no boxes is
//! [`PackingError::NoBoxes`].
//!
//! # Cost
//!
//! First-fit scans the open packages for each item: O(items × packages). Consecutive identical
//! units (a line's quantity) resume the scan where the previous one landed, since the packages
//! before it did not fit it then and have only filled up since; that keeps an order of a few
//! lines with large quantities near O(lines × packages + items).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Largest accepted length, width or height, in millimetres (10 m).
pub const MAX_DIMENSION_MM: i64 = 10_000;

/// Largest accepted weight or weight limit, in grams (1 t).
pub const MAX_WEIGHT_GRAMS: i64 = 1_000_000;

/// One unit of one order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The order line this unit belongs to.
    pub line_no: i32,
    /// Shipping weight of the unit; zero is allowed.
    pub weight_grams: i64,
    /// Length of the unit.
    pub length_mm: i64,
    /// Width of the unit.
    pub width_mm: i64,
    /// Height of the unit.
    pub height_mm: i64,
}

/// A box size a store ships in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BoxSize {
    /// The store's name for the size, unique among its sizes.
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    /// Inner length.
    #[schema(minimum = 1, maximum = 10_000)]
    pub length_mm: i64,
    /// Inner width.
    #[schema(minimum = 1, maximum = 10_000)]
    pub width_mm: i64,
    /// Inner height.
    #[schema(minimum = 1, maximum = 10_000)]
    pub height_mm: i64,
    /// Most the box may weigh when packed, tare included.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_weight_grams: i64,
    /// Weight of the empty box and its filling (at most `max_weight_grams`).
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub tare_grams: i64,
}

/// A packed box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Package {
    /// The [`BoxSize::name`] used.
    pub box_name: String,
    /// The box's length.
    pub length_mm: i64,
    /// The box's width.
    pub width_mm: i64,
    /// The box's height.
    pub height_mm: i64,
    /// Items plus tare.
    pub weight_grams: i64,
    /// Units per order line, sorted by line number.
    pub items: Vec<PackedLine>,
}

/// How many units of one order line a package holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PackedLine {
    /// The order line.
    pub line_no: i32,
    /// Units of it in the package; always at least 1.
    pub quantity: i64,
}

/// Why an order's items could not be packed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackingError {
    /// There are items to pack but no box sizes.
    #[error("no box sizes to pack into")]
    NoBoxes,
    /// An item fits no box alone: too long, too big or too heavy.
    #[error("an item of line {line_no} fits no box (too large or too heavy)")]
    ItemTooLarge {
        /// The line of the item.
        line_no: i32,
    },
    /// A box size is unusable; the text names it and says why.
    #[error("invalid box size: {0}")]
    InvalidBox(String),
    /// An item has a negative or absurd weight, or a non-positive or absurd dimension.
    #[error(
        "an item of line {line_no} is invalid: weight must be 0 to {MAX_WEIGHT_GRAMS} g and \
         dimensions 1 to {MAX_DIMENSION_MM} mm"
    )]
    InvalidItem {
        /// The line of the item.
        line_no: i32,
    },
}

/// Packs `items` into packages of the sizes in `boxes`, by the rules in the
/// [module documentation](self).
///
/// # Errors
///
/// [`PackingError::InvalidBox`] or [`PackingError::InvalidItem`] for input out of range,
/// [`PackingError::NoBoxes`] for items but no boxes, and [`PackingError::ItemTooLarge`] when
/// an item fits no box.
pub fn pack(items: &[Item], boxes: &[BoxSize]) -> Result<Vec<Package>, PackingError> {
    let cartons = cartons(boxes)?;
    let mut units = units(items)?;
    if units.is_empty() {
        return Ok(Vec::new());
    }
    if cartons.is_empty() {
        return Err(PackingError::NoBoxes);
    }
    units.sort_by(|a, b| {
        b.shape
            .volume
            .cmp(&a.shape.volume)
            .then(b.weight.cmp(&a.weight))
            .then(a.line_no.cmp(&b.line_no))
            .then(b.shape.dims.cmp(&a.shape.dims))
    });

    let mut open: Vec<OpenPackage> = Vec::new();
    // Where the scan for the next unit starts: past the packages an identical unit just failed
    // to fit, which can only have filled up since (see "Cost" in the module docs).
    let mut cursor = 0;
    let mut previous: Option<(Shape, i64)> = None;
    for unit in &units {
        if previous != Some((unit.shape, unit.weight)) {
            cursor = 0;
        }
        previous = Some((unit.shape, unit.weight));

        let placed = open
            .iter_mut()
            .enumerate()
            .skip(cursor)
            .find_map(|(index, package)| {
                package
                    .load
                    .with(unit)
                    .filter(|load| cartons[package.carton].holds(load))
                    .map(|load| (index, package, load))
            });
        match placed {
            Some((index, package, load)) => {
                package.load = load;
                package.add_line(unit.line_no);
                cursor = index;
            }
            None => {
                let smallest = Load::EMPTY.with(unit).and_then(|load| {
                    let carton = cartons.iter().position(|c| c.holds(&load))?;
                    Some((carton, load))
                });
                let Some((carton, load)) = smallest else {
                    return Err(PackingError::ItemTooLarge {
                        line_no: unit.line_no,
                    });
                };
                let mut package = OpenPackage {
                    carton,
                    load,
                    lines: BTreeMap::new(),
                };
                package.add_line(unit.line_no);
                cursor = open.len();
                open.push(package);
            }
        }
    }

    for package in &mut open {
        shrink(package, &cartons);
    }

    Ok(open
        .into_iter()
        .map(|package| {
            let size = cartons[package.carton].size;
            Package {
                box_name: size.name.clone(),
                length_mm: size.length_mm,
                width_mm: size.width_mm,
                height_mm: size.height_mm,
                weight_grams: size.tare_grams.saturating_add(package.load.weight),
                items: package
                    .lines
                    .into_iter()
                    .map(|(line_no, quantity)| PackedLine { line_no, quantity })
                    .collect(),
            }
        })
        .collect())
}

/// A default box list for a store that configured none: four common corrugated mailer and
/// carton sizes, inner dimensions (length × width × height, mm), the most each may weigh
/// packed, and the tare (box and filling):
///
/// | name          | mm              | max weight | tare  |
/// |---------------|-----------------|------------|-------|
/// | `small`       | 250 × 180 × 100 | 5 kg       | 120 g |
/// | `medium`      | 350 × 250 × 200 | 15 kg      | 300 g |
/// | `large`       | 450 × 350 × 300 | 25 kg      | 550 g |
/// | `extra-large` | 600 × 400 × 400 | 30 kg      | 850 g |
///
/// 30 kg keeps the largest under the per-parcel limit of common parcel services (about 31.5 kg).
pub fn default_boxes() -> Vec<BoxSize> {
    [
        ("small", 250, 180, 100, 5_000, 120),
        ("medium", 350, 250, 200, 15_000, 300),
        ("large", 450, 350, 300, 25_000, 550),
        ("extra-large", 600, 400, 400, 30_000, 850),
    ]
    .into_iter()
    .map(
        |(name, length_mm, width_mm, height_mm, max_weight_grams, tare_grams)| BoxSize {
            name: name.to_owned(),
            length_mm,
            width_mm,
            height_mm,
            max_weight_grams,
            tare_grams,
        },
    )
    .collect()
}

/// Dimensions sorted ascending, so comparing two shapes axis by axis allows any rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    dims: [i64; 3],
    volume: i64,
}

impl Shape {
    fn new(length_mm: i64, width_mm: i64, height_mm: i64) -> Option<Shape> {
        let mut dims = [length_mm, width_mm, height_mm];
        if dims.iter().any(|d| !(1..=MAX_DIMENSION_MM).contains(d)) {
            return None;
        }
        dims.sort_unstable();
        let volume = dims[0].checked_mul(dims[1])?.checked_mul(dims[2])?;
        Some(Shape { dims, volume })
    }
}

/// A validated item.
#[derive(Debug)]
struct Unit {
    line_no: i32,
    shape: Shape,
    weight: i64,
}

/// What a package's items take up. `extent` is the axis-wise maximum of the items' sorted
/// dimensions: a box whose sorted dimensions cover it covers every item, so one comparison
/// decides whether a box could hold them all, whatever they are.
#[derive(Debug, Clone, Copy)]
struct Load {
    extent: [i64; 3],
    volume: i64,
    weight: i64,
}

impl Load {
    const EMPTY: Load = Load {
        extent: [0; 3],
        volume: 0,
        weight: 0,
    };

    fn with(&self, unit: &Unit) -> Option<Load> {
        let mut extent = self.extent;
        for (e, d) in extent.iter_mut().zip(unit.shape.dims) {
            *e = (*e).max(d);
        }
        Some(Load {
            extent,
            volume: self.volume.checked_add(unit.shape.volume)?,
            weight: self.weight.checked_add(unit.weight)?,
        })
    }
}

/// A validated box size.
#[derive(Debug)]
struct Carton<'a> {
    size: &'a BoxSize,
    shape: Shape,
    /// What the items may weigh: max weight less tare.
    payload: i64,
}

impl Carton<'_> {
    fn holds(&self, load: &Load) -> bool {
        load.extent
            .iter()
            .zip(self.shape.dims)
            .all(|(e, d)| *e <= d)
            && load.volume <= self.shape.volume
            && load.weight <= self.payload
    }
}

#[derive(Debug)]
struct OpenPackage {
    /// Index into the sorted cartons.
    carton: usize,
    load: Load,
    lines: BTreeMap<i32, i64>,
}

impl OpenPackage {
    fn add_line(&mut self, line_no: i32) {
        let quantity = self.lines.entry(line_no).or_insert(0);
        *quantity = quantity.saturating_add(1);
    }
}

/// Moves a package to the smallest box that holds its whole load (step 4 of the algorithm).
fn shrink(package: &mut OpenPackage, cartons: &[Carton<'_>]) {
    // Cartons are sorted smallest first and the current one holds the load, so the first match
    // is never larger than it.
    if let Some(smallest) = cartons.iter().position(|c| c.holds(&package.load)) {
        package.carton = smallest;
    }
}

/// Validates the boxes and sorts them smallest first.
fn cartons(boxes: &[BoxSize]) -> Result<Vec<Carton<'_>>, PackingError> {
    let mut names = BTreeSet::new();
    let mut cartons = Vec::with_capacity(boxes.len());
    for size in boxes {
        let name = &size.name;
        if name.trim().is_empty() {
            return Err(PackingError::InvalidBox(
                "a box size has no name".to_owned(),
            ));
        }
        if !names.insert(name.as_str()) {
            return Err(PackingError::InvalidBox(format!(
                "{name:?}: the name is used by two box sizes"
            )));
        }
        let shape = Shape::new(size.length_mm, size.width_mm, size.height_mm).ok_or_else(|| {
            PackingError::InvalidBox(format!(
                "{name:?}: dimensions must be 1 to {MAX_DIMENSION_MM} mm"
            ))
        })?;
        if !(1..=MAX_WEIGHT_GRAMS).contains(&size.max_weight_grams) {
            return Err(PackingError::InvalidBox(format!(
                "{name:?}: max weight must be 1 to {MAX_WEIGHT_GRAMS} g"
            )));
        }
        if !(0..=size.max_weight_grams).contains(&size.tare_grams) {
            return Err(PackingError::InvalidBox(format!(
                "{name:?}: tare must be 0 to the max weight"
            )));
        }
        cartons.push(Carton {
            size,
            shape,
            payload: size.max_weight_grams - size.tare_grams,
        });
    }
    cartons.sort_by(|a, b| {
        a.shape
            .volume
            .cmp(&b.shape.volume)
            .then_with(|| a.size.name.cmp(&b.size.name))
    });
    Ok(cartons)
}

fn units(items: &[Item]) -> Result<Vec<Unit>, PackingError> {
    items
        .iter()
        .map(|item| {
            let invalid = PackingError::InvalidItem {
                line_no: item.line_no,
            };
            if !(0..=MAX_WEIGHT_GRAMS).contains(&item.weight_grams) {
                return Err(invalid);
            }
            let shape = Shape::new(item.length_mm, item.width_mm, item.height_mm).ok_or(invalid)?;
            Ok(Unit {
                line_no: item.line_no,
                shape,
                weight: item.weight_grams,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
