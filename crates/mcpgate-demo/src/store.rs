//! The inventory itself: items in memory, and the rules for changing them.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Longest item name accepted, in characters.
const MAX_NAME_CHARS: usize = 100;

/// An inventory item as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Item {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) quantity: i64,
    pub(crate) tags: Vec<String>,
    pub(crate) updated_at: String,
}

/// The body of `createItem`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewItem {
    name: String,
    #[serde(default)]
    quantity: i64,
    #[serde(default)]
    tags: Vec<String>,
}

/// Why a change to the inventory was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// No item has this id.
    NotFound(u64),
    /// A new item's fields break the schema's rules.
    InvalidItem(&'static str),
    /// The adjustment would leave a negative quantity.
    NegativeStock,
    /// The adjustment does not fit in an `i64` quantity.
    StockOverflow,
}

/// Items by id, plus the next id to hand out (ids are never reused).
#[derive(Debug)]
pub(crate) struct Inventory {
    items: BTreeMap<u64, Item>,
    next_id: u64,
}

impl Inventory {
    /// The three items every demo starts with: ids 1, 2 and 3.
    pub(crate) fn seeded() -> Self {
        let now = now_rfc3339();
        let seed = [
            ("widget", 12, vec!["hardware"]),
            ("gadget", 0, vec!["electronics"]),
            ("gizmo", 5, vec!["hardware", "electronics"]),
        ];
        let mut inventory = Inventory {
            items: BTreeMap::new(),
            next_id: 1,
        };
        for (name, quantity, tags) in seed {
            inventory.insert(
                name.to_owned(),
                quantity,
                tags.into_iter().map(str::to_owned).collect(),
                now.clone(),
            );
        }
        inventory
    }

    /// Items in id order, only those tagged `tag` if given, at most `limit`.
    pub(crate) fn list(&self, tag: Option<&str>, limit: usize) -> Vec<Item> {
        self.items
            .values()
            .filter(|item| tag.is_none_or(|tag| item.tags.iter().any(|t| t == tag)))
            .take(limit)
            .cloned()
            .collect()
    }

    pub(crate) fn get(&self, id: u64) -> Result<Item, StoreError> {
        self.items.get(&id).cloned().ok_or(StoreError::NotFound(id))
    }

    pub(crate) fn create(&mut self, new: NewItem) -> Result<Item, StoreError> {
        let name_chars = new.name.chars().count();
        if name_chars == 0 || name_chars > MAX_NAME_CHARS {
            return Err(StoreError::InvalidItem("name must be 1 to 100 characters"));
        }
        if new.quantity < 0 {
            return Err(StoreError::InvalidItem("quantity must be 0 or more"));
        }
        Ok(self.insert(new.name, new.quantity, new.tags, now_rfc3339()))
    }

    /// Add `delta` to the item's quantity, refusing to go below zero.
    pub(crate) fn adjust_stock(&mut self, id: u64, delta: i64) -> Result<Item, StoreError> {
        let item = self.items.get_mut(&id).ok_or(StoreError::NotFound(id))?;
        let quantity = item
            .quantity
            .checked_add(delta)
            .ok_or(StoreError::StockOverflow)?;
        if quantity < 0 {
            return Err(StoreError::NegativeStock);
        }
        item.quantity = quantity;
        item.updated_at = now_rfc3339();
        Ok(item.clone())
    }

    pub(crate) fn delete(&mut self, id: u64) -> Result<(), StoreError> {
        self.items
            .remove(&id)
            .map(drop)
            .ok_or(StoreError::NotFound(id))
    }

    fn insert(&mut self, name: String, quantity: i64, tags: Vec<String>, now: String) -> Item {
        let item = Item {
            id: self.next_id,
            name,
            quantity,
            tags,
            updated_at: now,
        };
        self.next_id += 1;
        self.items.insert(item.id, item.clone());
        item
    }
}

/// The current UTC time as RFC 3339 (`2025-01-01T12:00:00.000Z`).
fn now_rfc3339() -> String {
    mcpgate_core::format_rfc3339(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_item(name: &str, quantity: i64) -> NewItem {
        NewItem {
            name: name.to_owned(),
            quantity,
            tags: Vec::new(),
        }
    }

    #[test]
    fn seeds_three_items_and_numbers_new_ones_from_four() {
        let mut inventory = Inventory::seeded();
        let ids: Vec<u64> = inventory.list(None, 100).iter().map(|i| i.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        let created = inventory
            .create(new_item("sprocket", 1))
            .expect("valid item");
        assert_eq!(created.id, 4);
        inventory.delete(4).expect("exists");
        let created = inventory.create(new_item("cog", 0)).expect("valid item");
        assert_eq!(created.id, 5, "ids are never reused");
    }

    #[test]
    fn validates_new_items() {
        let mut inventory = Inventory::seeded();
        assert!(matches!(
            inventory.create(new_item("", 0)),
            Err(StoreError::InvalidItem(_))
        ));
        assert!(matches!(
            inventory.create(new_item(&"é".repeat(101), 0)),
            Err(StoreError::InvalidItem(_))
        ));
        assert!(inventory.create(new_item(&"é".repeat(100), 0)).is_ok());
        assert!(matches!(
            inventory.create(new_item("x", -1)),
            Err(StoreError::InvalidItem(_))
        ));
    }

    #[test]
    fn stock_never_goes_negative_or_overflows() {
        let mut inventory = Inventory::seeded();
        assert_eq!(
            inventory.adjust_stock(3, -6),
            Err(StoreError::NegativeStock)
        );
        assert_eq!(inventory.get(3).map(|i| i.quantity), Ok(5));
        assert_eq!(inventory.adjust_stock(3, -5).map(|i| i.quantity), Ok(0));
        assert_eq!(
            inventory.adjust_stock(1, i64::MAX),
            Err(StoreError::StockOverflow)
        );
        assert_eq!(inventory.adjust_stock(99, 1), Err(StoreError::NotFound(99)));
    }
}
