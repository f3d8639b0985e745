//! Key lookup in the small maps a review is made of once it is read through the policies'
//! projection: a few keys per object, looked up by every rule of every policy.

/// Maps with more entries than this are searched in key order.
const SEARCHED_IN_ORDER_ABOVE: usize = 8;

/// The value under `key` in `map`. A small map is scanned comparing lengths first, which
/// rules most keys out without the byte comparison (a call to `memcmp`) that an ordered search
/// makes at every key it passes; a larger one is searched by `ordered_get`.
pub fn lookup<'m, V: 'm, M>(
    map: &'m M,
    key: &str,
    ordered_get: impl FnOnce() -> Option<&'m V>,
) -> Option<&'m V>
where
    &'m M: IntoIterator<Item = (&'m String, &'m V), IntoIter: ExactSizeIterator>,
{
    let mut entries = map.into_iter();
    if entries.len() > SEARCHED_IN_ORDER_ABOVE {
        return ordered_get();
    }
    entries
        .find(|(name, _)| name.len() == key.len() && name.as_str() == key)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(keys: &[&str]) -> BTreeMap<String, usize> {
        keys.iter()
            .enumerate()
            .map(|(index, key)| ((*key).to_owned(), index))
            .collect()
    }

    #[test]
    fn finds_keys_in_small_and_large_maps_alike() {
        let small = map(&["image", "name", "images", ""]);
        let keys: Vec<String> = (0..20).map(|index| format!("key{index}")).collect();
        let large = map(&keys.iter().map(String::as_str).collect::<Vec<_>>());
        for (map, present, absent) in [
            (&small, ["image", "images", ""], ["imag", "Image", "names"]),
            (&large, ["key0", "key19", "key7"], ["key", "key20", "Key1"]),
        ] {
            for key in present {
                assert_eq!(lookup(map, key, || map.get(key)), map.get(key), "{key:?}");
                assert!(map.contains_key(key));
            }
            for key in absent {
                assert_eq!(lookup(map, key, || map.get(key)), None, "{key:?}");
            }
        }
    }
}
