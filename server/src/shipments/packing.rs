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
    pub name: String,
    /// Inner length.
    pub length_mm: i64,
    /// Inner width.
    pub width_mm: i64,
    /// Inner height.
    pub height_mm: i64,
    /// Most the box may weigh when packed, tare included.
    pub max_weight_grams: i64,
    /// Weight of the empty box and its filling.
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
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn item(line_no: i32, dims: [i64; 3], weight_grams: i64) -> Item {
        let [length_mm, width_mm, height_mm] = dims;
        Item {
            line_no,
            weight_grams,
            length_mm,
            width_mm,
            height_mm,
        }
    }

    fn size(name: &str, dims: [i64; 3], max_weight_grams: i64, tare_grams: i64) -> BoxSize {
        let [length_mm, width_mm, height_mm] = dims;
        BoxSize {
            name: name.to_owned(),
            length_mm,
            width_mm,
            height_mm,
            max_weight_grams,
            tare_grams,
        }
    }

    fn package(size: &BoxSize, weight_grams: i64, lines: &[(i32, i64)]) -> Package {
        Package {
            box_name: size.name.clone(),
            length_mm: size.length_mm,
            width_mm: size.width_mm,
            height_mm: size.height_mm,
            weight_grams,
            items: lines
                .iter()
                .map(|&(line_no, quantity)| PackedLine { line_no, quantity })
                .collect(),
        }
    }

    #[test]
    fn one_item_goes_in_the_smallest_box_that_holds_it() {
        let big = size("big", [400, 400, 400], 5_000, 200);
        let small = size("small", [200, 200, 200], 1_000, 50);
        let packed = pack(&[item(1, [100, 100, 100], 500)], &[big, small.clone()]).unwrap();
        assert_eq!(packed, vec![package(&small, 550, &[(1, 1)])]);
    }

    #[test]
    fn weight_splits_items_over_two_boxes() {
        // 100 g tare + 2 × 500 g = 1100 g is over the 1000 g limit; the weightless third item
        // still joins the first package.
        let b = size("b", [300, 300, 300], 1_000, 100);
        let items = [
            item(1, [100, 100, 100], 500),
            item(1, [100, 100, 100], 500),
            item(2, [50, 50, 50], 0),
        ];
        let packed = pack(&items, std::slice::from_ref(&b)).unwrap();
        assert_eq!(
            packed,
            vec![
                package(&b, 600, &[(1, 1), (2, 1)]),
                package(&b, 600, &[(1, 1)]),
            ]
        );
    }

    #[test]
    fn volume_splits_items_over_two_boxes() {
        // Box 2,000,000 mm³; each item 800,000 mm³: two fit, a third does not.
        let b = size("b", [100, 100, 200], 10_000, 0);
        let items = vec![item(1, [100, 100, 80], 100); 3];
        let packed = pack(&items, std::slice::from_ref(&b)).unwrap();
        assert_eq!(
            packed,
            vec![package(&b, 200, &[(1, 2)]), package(&b, 100, &[(1, 1)])]
        );
    }

    #[test]
    fn items_are_turned_to_fit() {
        // Only fits lying flat: 300 along the box's 300, 100 along its 100, 50 in its 60.
        let flat = size("flat", [60, 300, 100], 1_000, 5);
        let packed = pack(&[item(3, [300, 100, 50], 10)], std::slice::from_ref(&flat)).unwrap();
        assert_eq!(packed, vec![package(&flat, 15, &[(3, 1)])]);
    }

    #[test]
    fn an_item_longer_than_every_box_is_too_large_whatever_its_volume() {
        let cube = size("cube", [200, 200, 200], 1_000, 0);
        assert_eq!(
            pack(&[item(4, [500, 10, 10], 1)], &[cube]),
            Err(PackingError::ItemTooLarge { line_no: 4 })
        );
    }

    #[test]
    fn an_item_heavier_than_every_box_allows_is_too_large() {
        let b = size("b", [200, 200, 200], 1_000, 1);
        assert_eq!(
            pack(&[item(5, [10, 10, 10], 999)], std::slice::from_ref(&b)),
            Ok(vec![package(&b, 1_000, &[(5, 1)])])
        );
        assert_eq!(
            pack(&[item(5, [10, 10, 10], 1_000)], &[b]),
            Err(PackingError::ItemTooLarge { line_no: 5 })
        );
    }

    #[test]
    fn too_large_names_the_largest_offending_item() {
        let b = size("b", [100, 100, 100], 1_000, 0);
        let items = [
            item(1, [10, 10, 10], 1),
            item(2, [200, 10, 10], 1),
            item(3, [300, 10, 10], 1),
        ];
        assert_eq!(
            pack(&items, &[b]),
            Err(PackingError::ItemTooLarge { line_no: 3 })
        );
    }

    #[test]
    fn smaller_items_fill_the_box_a_larger_one_opened() {
        // The 150 mm cube needs the large box (8,000,000 mm³, 3,375,000 used); the four 100 mm
        // cubes (1,000,000 mm³ each) fit in beside it rather than opening small boxes.
        let small = size("small", [100, 100, 100], 5_000, 0);
        let large = size("large", [200, 200, 200], 5_000, 0);
        let mut items = vec![item(2, [100, 100, 100], 100); 4];
        items.push(item(1, [150, 150, 150], 1_000));
        let packed = pack(&items, &[small, large.clone()]).unwrap();
        assert_eq!(packed, vec![package(&large, 1_400, &[(1, 1), (2, 4)])]);
    }

    #[test]
    fn shrink_step_moves_a_package_to_the_smallest_box_that_holds_it() {
        let boxes = [
            size("large", [300, 300, 300], 10_000, 50),
            size("small", [100, 100, 100], 10_000, 10),
        ];
        let cartons = cartons(&boxes).unwrap();
        let unit = Unit {
            line_no: 1,
            shape: Shape::new(50, 50, 50).unwrap(),
            weight: 100,
        };
        let mut package = OpenPackage {
            carton: 1,
            load: Load::EMPTY.with(&unit).unwrap(),
            lines: BTreeMap::from([(1, 1)]),
        };
        assert_eq!(cartons[1].size.name, "large");
        shrink(&mut package, &cartons);
        assert_eq!(cartons[package.carton].size.name, "small");

        // The load no longer fits small: it stays in large.
        let big = Unit {
            line_no: 2,
            shape: Shape::new(150, 50, 50).unwrap(),
            weight: 100,
        };
        package.carton = 1;
        package.load = package.load.with(&big).unwrap();
        shrink(&mut package, &cartons);
        assert_eq!(cartons[package.carton].size.name, "large");
    }

    #[test]
    fn lines_are_counted_per_package_in_line_order() {
        let b = size("b", [100, 100, 100], 1_000, 0);
        let items = [
            item(3, [10, 10, 10], 0),
            item(1, [10, 10, 10], 0),
            item(3, [10, 10, 10], 0),
            item(2, [10, 10, 10], 0),
        ];
        let packed = pack(&items, std::slice::from_ref(&b)).unwrap();
        assert_eq!(packed, vec![package(&b, 0, &[(1, 1), (2, 1), (3, 2)])]);
    }

    #[test]
    fn no_items_means_no_packages() {
        assert_eq!(pack(&[], &[]), Ok(vec![]));
        assert_eq!(pack(&[], &default_boxes()), Ok(vec![]));
    }

    #[test]
    fn items_without_boxes_is_no_boxes() {
        assert_eq!(
            pack(&[item(1, [1, 1, 1], 0)], &[]),
            Err(PackingError::NoBoxes)
        );
    }

    #[test]
    fn invalid_items_are_refused() {
        let boxes = default_boxes();
        for bad in [
            item(7, [10, 10, 10], -1),
            item(7, [10, 10, 10], MAX_WEIGHT_GRAMS + 1),
            item(7, [0, 10, 10], 1),
            item(7, [10, -10, 10], 1),
            item(7, [10, 10, MAX_DIMENSION_MM + 1], 1),
            item(7, [i64::MAX, i64::MAX, i64::MAX], i64::MAX),
            item(7, [i64::MIN, 1, 1], i64::MIN),
        ] {
            assert_eq!(
                pack(&[item(1, [10, 10, 10], 1), bad.clone()], &boxes),
                Err(PackingError::InvalidItem { line_no: 7 }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_largest_accepted_values_do_not_overflow() {
        let huge = size(
            "huge",
            [MAX_DIMENSION_MM; 3],
            MAX_WEIGHT_GRAMS,
            MAX_WEIGHT_GRAMS,
        );
        let items = vec![item(1, [MAX_DIMENSION_MM; 3], 0); 3];
        let packed = pack(&items, std::slice::from_ref(&huge)).unwrap();
        assert_eq!(packed.len(), 3);
        assert!(packed.iter().all(|p| p.weight_grams == MAX_WEIGHT_GRAMS));
    }

    #[test]
    fn invalid_boxes_are_refused() {
        let items = [item(1, [10, 10, 10], 1)];
        let good = size("good", [100, 100, 100], 1_000, 10);
        for bad in [
            size("bad", [0, 100, 100], 1_000, 10),
            size("bad", [100, -1, 100], 1_000, 10),
            size("bad", [100, 100, MAX_DIMENSION_MM + 1], 1_000, 10),
            size("bad", [i64::MAX, i64::MAX, i64::MAX], i64::MAX, 0),
            size("bad", [100, 100, 100], 0, 0),
            size("bad", [100, 100, 100], MAX_WEIGHT_GRAMS + 1, 10),
            size("bad", [100, 100, 100], 1_000, 1_001),
            size("bad", [100, 100, 100], 1_000, -1),
            size(" ", [100, 100, 100], 1_000, 10),
            size("good", [200, 200, 200], 1_000, 10),
        ] {
            let result = pack(&items, &[good.clone(), bad.clone()]);
            assert!(
                matches!(result, Err(PackingError::InvalidBox(_))),
                "{bad:?}: {result:?}"
            );
        }
        // Box errors come first, even with nothing to pack.
        assert!(matches!(
            pack(&[], &[size("bad", [0, 1, 1], 1, 0)]),
            Err(PackingError::InvalidBox(_))
        ));
    }

    #[test]
    fn default_boxes_are_valid_and_grow_in_size_and_limit() {
        let boxes = default_boxes();
        let cartons = cartons(&boxes).unwrap();
        assert_eq!(cartons.len(), 4);
        for (carton, size) in cartons.iter().zip(&boxes) {
            assert_eq!(carton.size, size, "listed smallest first");
        }
        for pair in boxes.windows(2) {
            assert!(pair[0].max_weight_grams < pair[1].max_weight_grams);
            assert!(pair[0].tare_grams < pair[1].tare_grams);
        }
        // A book and two mugs: 1,650 g of goods go in one small box.
        let items = [
            item(1, [230, 160, 40], 900),
            item(2, [120, 90, 90], 375),
            item(2, [120, 90, 90], 375),
        ];
        let packed = pack(&items, &boxes).unwrap();
        assert_eq!(packed, vec![package(&boxes[0], 1_770, &[(1, 1), (2, 2)])]);
    }

    #[test]
    fn an_order_at_the_line_and_quantity_limits_packs_in_reasonable_time() {
        // 100 lines × 1,000 units, one unit per box: 100,000 packages. Plain first-fit would scan
        // ~5 × 10⁹ packages; resuming within a line keeps it to ~10⁷.
        let boxes = default_boxes();
        let items: Vec<Item> = (1..=100)
            .flat_map(|line| std::iter::repeat_n(item(line, [100, 100, 100], 20_000), 1_000))
            .collect();
        let packed = pack(&items, &boxes).unwrap();
        assert_eq!(packed.len(), 100_000);
        assert!(packed.iter().all(|p| p.box_name == "large"));
    }

    // ---- Properties, over small random items and boxes so that all outcomes are common. ----

    /// One order line: its unit's dimensions and weight, and its quantity.
    type Line = ([i64; 3], i64, usize);

    fn lines() -> impl Strategy<Value = Vec<Line>> {
        proptest::collection::vec(
            ([1i64..=60, 1i64..=60, 1i64..=60], 0i64..=1_500, 1usize..=4),
            0..8,
        )
    }

    fn box_sizes() -> impl Strategy<Value = Vec<BoxSize>> {
        proptest::collection::vec(
            ([1i64..=90, 1i64..=90, 1i64..=90], 1i64..=3_000, 0i64..=100),
            0..5,
        )
        .prop_map(|sizes| {
            sizes
                .into_iter()
                .enumerate()
                .map(|(i, (dims, max, tare_percent))| {
                    size(&format!("box{i}"), dims, max, max * tare_percent / 100)
                })
                .collect()
        })
    }

    fn line_no(index: usize) -> i32 {
        i32::try_from(index).unwrap() + 1
    }

    fn expand(lines: &[Line]) -> Vec<Item> {
        lines
            .iter()
            .enumerate()
            .flat_map(|(i, &(dims, weight, quantity))| {
                std::iter::repeat_n(item(line_no(i), dims, weight), quantity)
            })
            .collect()
    }

    fn sorted(dims: [i64; 3]) -> [i64; 3] {
        let mut dims = dims;
        dims.sort_unstable();
        dims
    }

    /// Whether `b` holds these lines' units (line index, quantity), by the rules written out
    /// again independently of the code under test.
    fn holds(b: &BoxSize, lines: &[Line], contents: &[(usize, i64)]) -> bool {
        let box_dims = sorted([b.length_mm, b.width_mm, b.height_mm]);
        let mut volume = 0;
        let mut weight = b.tare_grams;
        for &(i, quantity) in contents {
            let (dims, unit_weight, _) = lines[i];
            let dims = sorted(dims);
            if dims.iter().zip(box_dims).any(|(d, b)| *d > b) {
                return false;
            }
            volume += dims.iter().product::<i64>() * quantity;
            weight += unit_weight * quantity;
        }
        volume <= box_dims.iter().product::<i64>() && weight <= b.max_weight_grams
    }

    proptest! {
        #[test]
        fn packing_keeps_every_rule(lines in lines(), boxes in box_sizes()) {
            let items = expand(&lines);
            let result = pack(&items, &boxes);

            let fits_alone =
                |i: usize| boxes.iter().any(|b| holds(b, &lines, &[(i, 1)]));
            let packable = (0..lines.len()).all(fits_alone);
            match result {
                Err(PackingError::NoBoxes) => {
                    prop_assert!(boxes.is_empty() && !items.is_empty());
                }
                Err(PackingError::ItemTooLarge { line_no: n }) => {
                    prop_assert!(!boxes.is_empty());
                    let i = usize::try_from(n - 1).unwrap();
                    prop_assert!(!fits_alone(i), "line {} fits a box alone", n);
                }
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
                Ok(packages) => {
                    prop_assert!(packable && (!boxes.is_empty() || items.is_empty()));
                    let mut packed = vec![0i64; lines.len()];
                    for p in &packages {
                        let b = boxes.iter().find(|b| b.name == p.box_name).unwrap();
                        prop_assert_eq!(
                            [p.length_mm, p.width_mm, p.height_mm],
                            [b.length_mm, b.width_mm, b.height_mm]
                        );
                        prop_assert!(!p.items.is_empty());
                        prop_assert!(p.items.windows(2).all(|w| w[0].line_no < w[1].line_no));
                        let contents: Vec<(usize, i64)> = p
                            .items
                            .iter()
                            .map(|l| (usize::try_from(l.line_no - 1).unwrap(), l.quantity))
                            .collect();
                        let mut weight = b.tare_grams;
                        for &(i, quantity) in &contents {
                            prop_assert!(quantity >= 1);
                            packed[i] += quantity;
                            weight += lines[i].1 * quantity;
                        }
                        prop_assert_eq!(p.weight_grams, weight);
                        // Dimensions, volume and weight limit, all at once.
                        prop_assert!(holds(b, &lines, &contents), "{:?} overfills {:?}", p, b);
                        // Shrunk: no smaller box (by volume, then name) holds the contents.
                        let volume = |b: &BoxSize| b.length_mm * b.width_mm * b.height_mm;
                        for smaller in boxes
                            .iter()
                            .filter(|s| (volume(s), &s.name) < (volume(b), &b.name))
                        {
                            prop_assert!(!holds(smaller, &lines, &contents));
                        }
                    }
                    let wanted: Vec<i64> = lines
                        .iter()
                        .map(|l| i64::try_from(l.2).unwrap())
                        .collect();
                    prop_assert_eq!(packed, wanted);
                }
            }
        }

        #[test]
        fn packing_is_deterministic_and_ignores_input_order(
            lines in lines(),
            boxes in box_sizes(),
            seed in any::<u64>(),
        ) {
            let items = expand(&lines);
            let first = pack(&items, &boxes);
            prop_assert_eq!(&first, &pack(&items, &boxes));

            let mut reversed = items.clone();
            reversed.reverse();
            let mut boxes_reversed = boxes.clone();
            boxes_reversed.reverse();
            prop_assert_eq!(&first, &pack(&reversed, &boxes_reversed));

            // A cheap deterministic shuffle: rotate by a seed-derived amount, then interleave.
            let mut shuffled = items.clone();
            if !shuffled.is_empty() {
                let by = usize::try_from(seed % u64::try_from(shuffled.len()).unwrap()).unwrap();
                shuffled.rotate_left(by);
            }
            let (evens, odds): (Vec<_>, Vec<_>) =
                shuffled.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
            let shuffled: Vec<Item> = odds.into_iter().chain(evens).map(|(_, item)| item).collect();
            prop_assert_eq!(&first, &pack(&shuffled, &boxes));
        }

        #[test]
        fn absurd_numbers_are_refused_not_overflowed(
            item_values in proptest::collection::vec(proptest::array::uniform4(wild()), 1..4),
            box_values in proptest::collection::vec(proptest::array::uniform5(wild()), 1..3),
        ) {
            let items: Vec<Item> = item_values
                .iter()
                .enumerate()
                .map(|(i, &[l, w, h, g])| item(line_no(i), [l, w, h], g))
                .collect();
            let boxes: Vec<BoxSize> = box_values
                .iter()
                .enumerate()
                .map(|(i, &[l, w, h, max, tare])| size(&format!("box{i}"), [l, w, h], max, tare))
                .collect();
            let dims_ok = |d: &[i64]| d.iter().all(|d| (1..=MAX_DIMENSION_MM).contains(d));
            let boxes_ok = box_values.iter().all(|&[l, w, h, max, tare]| {
                dims_ok(&[l, w, h])
                    && (1..=MAX_WEIGHT_GRAMS).contains(&max)
                    && (0..=max).contains(&tare)
            });
            let first_bad_item = item_values.iter().position(|&[l, w, h, g]| {
                !dims_ok(&[l, w, h]) || !(0..=MAX_WEIGHT_GRAMS).contains(&g)
            });
            match (pack(&items, &boxes), boxes_ok, first_bad_item) {
                (Err(PackingError::InvalidBox(_)), false, _) => {}
                (Err(PackingError::InvalidItem { line_no: n }), true, Some(i)) => {
                    prop_assert_eq!(n, line_no(i));
                }
                (Ok(_) | Err(PackingError::ItemTooLarge { .. }), true, None) => {}
                (result, _, _) => prop_assert!(false, "unexpected {:?}", result),
            }
        }
    }

    /// Mostly values near the limits, some anywhere in `i64`.
    fn wild() -> impl Strategy<Value = i64> {
        prop_oneof![
            3 => 1i64..=MAX_DIMENSION_MM,
            1 => -2i64..=2,
            1 => (MAX_DIMENSION_MM - 2)..=(MAX_WEIGHT_GRAMS + 2),
            1 => any::<i64>(),
        ]
    }
}
