//! Packing's rules: worked examples and properties over random items and boxes.
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
