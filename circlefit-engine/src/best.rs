//! The best of several independent runs (a stage's searches, a slot's climbs): the one of
//! the lowest cost, the first of equals, so the choice does not depend on which thread ran
//! which.

/// The first item of the lowest `cost` (items without a cost are never chosen).
pub(crate) fn first_lowest<T>(
    items: impl IntoIterator<Item = T>,
    cost: impl Fn(&T) -> Option<f64>,
) -> Option<T> {
    let mut best: Option<(f64, T)> = None;
    for item in items {
        if let Some(c) = cost(&item)
            && best.as_ref().is_none_or(|(b, _)| c < *b)
        {
            best = Some((c, item));
        }
    }
    best.map(|(_, item)| item)
}

#[cfg(test)]
mod tests {
    use super::first_lowest;

    #[test]
    fn the_first_of_equals_wins_and_items_without_a_cost_never_do() {
        let items = [
            (None, 'a'),
            (Some(2.0), 'b'),
            (Some(1.0), 'c'),
            (Some(1.0), 'd'),
        ];
        assert_eq!(first_lowest(items, |i| i.0), Some((Some(1.0), 'c')));
        assert_eq!(first_lowest([(None::<f64>, 'a')], |i| i.0), None);
    }
}
