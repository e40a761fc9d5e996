//! Inventory arithmetic, free of any host calls.

use std::collections::BTreeMap;

use wapr_actor::Error;

/// Item name → quantity held (never 0: empty slots are removed). Sorted by
/// name so the JSON form is stable.
pub type Inventory = BTreeMap<String, u64>;

/// Adds `qty` of `item`.
///
/// # Errors
/// `bad-request` for an empty item name, a zero quantity, or an overflow.
pub fn add(inventory: &mut Inventory, item: &str, qty: u64) -> Result<(), Error> {
    validate(item, qty)?;
    let held = inventory.entry(item.to_owned()).or_default();
    *held = held
        .checked_add(qty)
        .ok_or_else(|| Error::bad_request(format!("too many `{item}`")))?;
    Ok(())
}

/// Removes `qty` of `item`, dropping the entry when none is left.
///
/// # Errors
/// `bad-request` for an empty item name, a zero quantity, or when fewer
/// than `qty` are held.
pub fn remove(inventory: &mut Inventory, item: &str, qty: u64) -> Result<(), Error> {
    validate(item, qty)?;
    let held = inventory.get(item).copied().unwrap_or(0);
    let left = held.checked_sub(qty).ok_or_else(|| {
        Error::bad_request(format!("not enough `{item}`: {held} held, {qty} to remove"))
    })?;
    if left == 0 {
        inventory.remove(item);
    } else {
        inventory.insert(item.to_owned(), left);
    }
    Ok(())
}

fn validate(item: &str, qty: u64) -> Result<(), Error> {
    if item.is_empty() {
        return Err(Error::bad_request("`item` must not be empty"));
    }
    if qty == 0 {
        return Err(Error::bad_request("`qty` must be at least 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use wapr_actor::ErrorKind;

    use super::*;

    #[test]
    fn add_then_remove() {
        let mut inv = Inventory::new();
        add(&mut inv, "sword", 2).unwrap();
        add(&mut inv, "sword", 1).unwrap();
        add(&mut inv, "apple", 5).unwrap();
        assert_eq!(inv.get("sword"), Some(&3));
        remove(&mut inv, "sword", 3).unwrap();
        assert_eq!(inv.get("sword"), None, "an emptied slot is removed");
        assert_eq!(inv.len(), 1);
    }

    #[test]
    fn removing_more_than_held_fails_and_changes_nothing() {
        let mut inv = Inventory::new();
        add(&mut inv, "sword", 1).unwrap();
        let err = remove(&mut inv, "sword", 2).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("not enough"), "{err}");
        let err = remove(&mut inv, "shield", 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert_eq!(inv.get("sword"), Some(&1));
    }

    #[test]
    fn rejects_empty_names_zero_quantities_and_overflow() {
        let mut inv = Inventory::new();
        assert!(add(&mut inv, "", 1).is_err());
        assert!(add(&mut inv, "x", 0).is_err());
        add(&mut inv, "x", u64::MAX).unwrap();
        assert!(add(&mut inv, "x", 1).is_err());
        assert_eq!(inv.get("x"), Some(&u64::MAX));
    }
}
